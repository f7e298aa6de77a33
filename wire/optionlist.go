package wire

// RawOption is one TCP option as it appears on the wire, for tools that
// care about the exact layout (a packetdrill-style script runner): Kind,
// and Data, the bytes after the kind and length fields. EOL and NOP have no
// length field and nil Data.
type RawOption struct {
	Kind uint8
	Data []byte // aliases the parsed buffer
}

// ParseTCPOptionList lists the options of a TCP options area in wire
// order, NOPs included. An EOL is listed and ends the list; the bytes after
// it are not looked at. Options are validated as by ParseTCPOptions, and a
// malformed one gives an error wrapping ErrMalformed.
func ParseTCPOptionList(b []byte) ([]RawOption, error) {
	var list []RawOption
	for len(b) > 0 {
		kind, data, n, err := nextOption(b)
		if err != nil {
			return nil, err
		}
		list = append(list, RawOption{Kind: kind, Data: data})
		if kind == OptEOL {
			break
		}
		b = b[n:]
	}
	return list, nil
}

// AppendTCPOptionList appends opts in the given order, without padding:
// kind alone for EOL and NOP, else kind, length (2+len(Data)) and Data.
// Data longer than 253 bytes is cut to fit its length byte. Together with
// AppendTCPWithOptions it builds segments with any layout, even invalid.
func AppendTCPOptionList(dst []byte, opts []RawOption) []byte {
	for _, o := range opts {
		if o.Kind == OptEOL || o.Kind == OptNOP {
			dst = append(dst, o.Kind)
			continue
		}
		data := o.Data[:min(len(o.Data), 253)]
		dst = append(dst, o.Kind, byte(2+len(data)))
		dst = append(dst, data...)
	}
	return dst
}
