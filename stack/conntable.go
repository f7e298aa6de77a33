package stack

import (
	"hash/maphash"
	"iter"
)

// connTable is a shard's demultiplexing table: its connections by
// 4-tuple. It is an open-addressing hash table with linear probing that
// keeps, per slot, the connection and 32 bits of its key's hash (12
// bytes; the connection holds the key), where a Go map of tuple to *Conn
// keeps the 64-byte key in every slot: about 128 bytes per connection
// against 16 to 32 here, paid by every idle connection. The hashes make
// a probe that misses cheap and a resize free of key reads. Deletion
// shifts the entries after the slot back (no tombstones). The table
// grows at 3/4 full and shrinks below 1/8, down to its first capacity,
// which it keeps once taken (192 bytes): a shard whose connections come
// and go one at a time would otherwise take and drop a table for each.
// Guarded by the shard's mu.
type connTable struct {
	seed   maphash.Seed
	hashes []uint32
	conns  []*Conn // nil: an empty slot
	n      int
}

// minConnTable is the first capacity, taken with the first connection.
const minConnTable = 16

// hash is k's slot hash: keyHash's, folded to 32 bits.
func (t *connTable) hash(k tuple) uint32 { return foldHash(t.keyHash(k)) }

// keyHash is k's 64-bit hash under the table's seed: a shard's table
// shares the stack's (newShard), so that a packet's key is hashed once
// for its shard and its slot (inPacket.khash).
func (t *connTable) keyHash(k tuple) uint64 {
	if t.seed == (maphash.Seed{}) {
		t.seed = maphash.MakeSeed()
	}
	return maphash.Comparable(t.seed, k)
}

func foldHash(h uint64) uint32 { return uint32(h ^ h>>32) }

// len is the number of connections.
func (t *connTable) len() int { return t.n }

// get returns the connection of k, or nil.
func (t *connTable) get(k tuple) *Conn {
	if t.n == 0 {
		return nil
	}
	return t.getHashed(k, t.keyHash(k))
}

// getHashed is get for a key whose keyHash is kh.
func (t *connTable) getHashed(k tuple, kh uint64) *Conn {
	if t.n == 0 {
		return nil
	}
	h := foldHash(kh)
	mask := uint32(len(t.conns) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		c := t.conns[i]
		if c == nil {
			return nil
		}
		if t.hashes[i] == h && c.key == k {
			return c
		}
	}
}

// set makes c the connection of c.key, in place of any other.
func (t *connTable) set(c *Conn) {
	if t.conns == nil {
		t.resize(minConnTable)
	}
	h := t.hash(c.key)
	mask := uint32(len(t.conns) - 1)
	i := h & mask
	for ; t.conns[i] != nil; i = (i + 1) & mask {
		if t.hashes[i] == h && t.conns[i].key == c.key {
			t.conns[i] = c
			return
		}
	}
	t.conns[i], t.hashes[i] = c, h
	t.n++
	if 4*t.n > 3*len(t.conns) {
		t.resize(2 * len(t.conns))
	}
}

// delete removes c if it is the connection of its key.
func (t *connTable) delete(c *Conn) {
	if t.n == 0 {
		return
	}
	h := t.hash(c.key)
	mask := uint32(len(t.conns) - 1)
	i := h & mask
	for ; t.conns[i] != c; i = (i + 1) & mask {
		if t.conns[i] == nil {
			return
		}
	}
	// Shift back the entries after i that probing would no longer find
	// once i is empty: those whose home slot is not in (i, j].
	for j := (i + 1) & mask; t.conns[j] != nil; j = (j + 1) & mask {
		home := t.hashes[j] & mask
		if (j-home)&mask >= (j-i)&mask {
			t.conns[i], t.hashes[i] = t.conns[j], t.hashes[j]
			i = j
		}
	}
	t.conns[i], t.hashes[i] = nil, 0
	t.n--
	if len(t.conns) > minConnTable && 8*t.n < len(t.conns) {
		t.resize(len(t.conns) / 2)
	}
}

// resize moves the entries into a table of size slots (a power of two).
func (t *connTable) resize(size int) {
	oldH, oldC := t.hashes, t.conns
	t.hashes, t.conns = make([]uint32, size), make([]*Conn, size)
	mask := uint32(size - 1)
	for k, c := range oldC {
		if c == nil {
			continue
		}
		h := oldH[k]
		i := h & mask
		for t.conns[i] != nil {
			i = (i + 1) & mask
		}
		t.conns[i], t.hashes[i] = c, h
	}
}

// all yields every connection, in no particular order; the table must
// not change while it runs.
func (t *connTable) all() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		for _, c := range t.conns {
			if c != nil && !yield(c) {
				return
			}
		}
	}
}
