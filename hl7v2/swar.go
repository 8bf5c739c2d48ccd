package hl7v2

import "encoding/binary"

// The scanners read the input eight bytes at a time ("SIMD within a
// register"): a word is compared with each delimiter at once, and the
// result has the high bit set in every byte that holds one of them.

const (
	swarOnes = 0x0101010101010101
	swarLow7 = 0x7f7f7f7f7f7f7f7f
)

// repeated returns a word holding c in each of its eight bytes.
func repeated(c byte) uint64 { return uint64(c) * swarOnes }

// notZero returns a word whose byte i has its high bit set if byte i of v
// is not zero, or any other bit set; it never carries between bytes, so
// its complement marks exactly the zero bytes of v.
func notZero(v uint64) uint64 { return (v&swarLow7 + swarLow7) | v }

// loadWord reads the eight bytes of b from i in little-endian order, so
// that byte i is the lowest. Past the end of b it reads zero bytes, which
// match no delimiter.
func loadWord(b []byte, i int) uint64 {
	if i+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[i:])
	}
	var w uint64
	for j := len(b) - 1; j >= i; j-- {
		w = w<<8 | uint64(b[j])
	}
	return w
}

// match3 marks the bytes of w equal to a, b or c (each a repeated byte):
// the high bit of each such byte is set, and no other bit.
func match3(w, a, b, c uint64) uint64 {
	return ^(notZero(w^a)&notZero(w^b)&notZero(w^c) | swarLow7)
}

// match4 marks the bytes of w equal to a, b, c or d, as match3 does.
func match4(w, a, b, c, d uint64) uint64 {
	return ^(notZero(w^a)&notZero(w^b)&notZero(w^c)&notZero(w^d) | swarLow7)
}

// match1 marks the bytes of w equal to a, as match3 does.
func match1(w, a uint64) uint64 {
	return ^(notZero(w^a) | swarLow7)
}

// byteMask packs the high bits of the bytes of m, as the match functions
// set them, into a byte: bit i is the high bit of byte i.
func byteMask(m uint64) uint64 { return (m >> 7) * 0x0102040810204080 >> 56 }

// blockMatch3 returns a bit for each byte of block equal to a, b or c (each
// a repeated byte): bit j for block[j].
func blockMatch3(block *[64]byte, a, b, c uint64) uint64 {
	return byteMask(match3(binary.LittleEndian.Uint64(block[0:]), a, b, c)) |
		byteMask(match3(binary.LittleEndian.Uint64(block[8:]), a, b, c))<<8 |
		byteMask(match3(binary.LittleEndian.Uint64(block[16:]), a, b, c))<<16 |
		byteMask(match3(binary.LittleEndian.Uint64(block[24:]), a, b, c))<<24 |
		byteMask(match3(binary.LittleEndian.Uint64(block[32:]), a, b, c))<<32 |
		byteMask(match3(binary.LittleEndian.Uint64(block[40:]), a, b, c))<<40 |
		byteMask(match3(binary.LittleEndian.Uint64(block[48:]), a, b, c))<<48 |
		byteMask(match3(binary.LittleEndian.Uint64(block[56:]), a, b, c))<<56
}
