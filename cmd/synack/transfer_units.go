package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseByteCount reads a byte count: a plain number, or one with a unit of
// 1000s (k, KB, M, MB, G, GB, T, TB) or 1024s (KiB, MiB, GiB, TiB); the
// unit is case-insensitive and a trailing "B" or "bytes" is allowed.
func parseByteCount(s string) (int64, error) {
	num, unit := splitNumUnit(s)
	u := strings.ToLower(unit)
	u = strings.TrimSuffix(u, "ytes")
	mult := 1.0
	switch u {
	case "", "b":
	case "k", "kb":
		mult = 1e3
	case "m", "mb":
		mult = 1e6
	case "g", "gb":
		mult = 1e9
	case "t", "tb":
		mult = 1e12
	case "ki", "kib":
		mult = 1 << 10
	case "mi", "mib":
		mult = 1 << 20
	case "gi", "gib":
		mult = 1 << 30
	case "ti", "tib":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	return scaleNum(s, num, mult)
}

// parseBitRate reads a rate in bits per second: a plain number, or one with
// k/K, M, G (1000s) and an optional "bit", "bps" or "b/s".
func parseBitRate(s string) (int64, error) {
	num, unit := splitNumUnit(s)
	u := strings.ToLower(unit)
	for _, suf := range []string{"bit/s", "bits", "bit", "bps", "b/s"} {
		if strings.HasSuffix(u, suf) {
			u = strings.TrimSuffix(u, suf)
			break
		}
	}
	mult := 1.0
	switch u {
	case "":
	case "k":
		mult = 1e3
	case "m":
		mult = 1e6
	case "g":
		mult = 1e9
	default:
		return 0, fmt.Errorf("rate %q: unknown unit %q", s, unit)
	}
	return scaleNum(s, num, mult)
}

// parseProbability reads a probability: "1%", "0.5%" or "0.01".
func parseProbability(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0, fmt.Errorf("%q is not a probability (e.g. 1%% or 0.01)", s)
	}
	if pct {
		v /= 100
	}
	if v > 1 {
		return 0, fmt.Errorf("%q is more than 100%%", s)
	}
	return v, nil
}

func splitNumUnit(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' && r != '-' && r != '_'
	})
	if i < 0 {
		return s, ""
	}
	// An "e" that starts the unit is not an exponent ("1e6" has none).
	return s[:i], strings.TrimSpace(s[i:])
}

func scaleNum(s, num string, mult float64) (int64, error) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	v *= mult
	if v >= math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(math.Round(v)), nil
}

// fraction is a flag.Value holding a probability.
type probFlag struct{ p *float64 }

func (f probFlag) String() string {
	if f.p == nil || *f.p == 0 {
		return "0"
	}
	return strconv.FormatFloat(*f.p*100, 'g', -1, 64) + "%"
}

func (f probFlag) Set(s string) error {
	v, err := parseProbability(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

// size is a flag.Value holding a byte count.
type bytesFlag struct{ n *int64 }

func (f bytesFlag) String() string {
	if f.n == nil {
		return "0"
	}
	if *f.n > 0 {
		return fmtBytes(*f.n)
	}
	return strconv.FormatInt(*f.n, 10)
}

func (f bytesFlag) Set(s string) error {
	v, err := parseByteCount(s)
	if err != nil {
		return err
	}
	*f.n = v
	return nil
}

// rate is a flag.Value holding bits per second.
type rateFlag struct{ n *int64 }

func (f rateFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return "0"
	}
	return fmtRate(float64(*f.n))
}

func (f rateFlag) Set(s string) error {
	v, err := parseBitRate(s)
	if err != nil {
		return err
	}
	*f.n = v
	return nil
}

// fmtRate writes bits per second with a unit: "100Mbit/s".
func fmtRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return strconv.FormatFloat(bps/1e9, 'f', -1, 64) + "Gbit/s"
	case bps >= 1e6:
		return strconv.FormatFloat(bps/1e6, 'f', -1, 64) + "Mbit/s"
	case bps >= 1e3:
		return strconv.FormatFloat(bps/1e3, 'f', -1, 64) + "kbit/s"
	}
	return strconv.FormatFloat(bps, 'f', -1, 64) + "bit/s"
}

// fmtBytes writes a byte count the way parseByteCount reads it: "8MiB".
func fmtBytes(n int64) string {
	units := []struct {
		s string
		v int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	for _, u := range units {
		if n >= u.v {
			return strconv.FormatFloat(float64(n)/float64(u.v), 'f', 2, 64) + u.s
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
