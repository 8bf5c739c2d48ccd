package fhirpath

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// decimal is an exact decimal number: c × 10^-s. FHIRPath decimals carry
// their precision (FHIRPath 2.0 section 2.1.20: "1.0" has one digit after
// the point, "1.00" two), which equality ignores for trailing zeros and
// functions such as precision() report. Results of division keep up to
// maxScale digits.
type decimal struct {
	c int64
	s int8
}

// maxScale is how many digits after the point division produces (the
// FHIRPath Decimal step is 10^-8).
const maxScale = 8

// errOverflow is a decimal result too large for the representation.
var errOverflow = errors.New("fhirpath: decimal overflow")

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseDecimal reads a decimal written as in FHIRPath or FHIR JSON:
// an optional sign, digits, an optional fraction and, in JSON, an
// optional exponent.
func parseDecimal(text string) (decimal, error) {
	s := text
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 40 || e < -40 {
			return decimal{}, errors.New("fhirpath: bad decimal " + strconv.Quote(text))
		}
		exp, s = e, s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || strings.Trim(intPart+frac, "0123456789") != "" {
		return decimal{}, errors.New("fhirpath: bad decimal " + strconv.Quote(text))
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := len(frac) - exp
	// Zeros at the end of the fraction may go to fit the value.
	for len(digits) > 19 && scale > 0 && digits[len(digits)-1] == '0' {
		digits, scale = digits[:len(digits)-1], scale-1
	}
	if len(digits) > 19 {
		return decimal{}, errOverflow
	}
	var c int64
	for i := 0; i < len(digits); i++ {
		d := int64(digits[i] - '0')
		if c > (math.MaxInt64-d)/10 {
			return decimal{}, errOverflow
		}
		c = c*10 + d
	}
	for scale < 0 {
		if c > math.MaxInt64/10 {
			return decimal{}, errOverflow
		}
		c *= 10
		scale++
	}
	if scale > 60 {
		return decimal{}, errOverflow
	}
	if neg {
		c = -c
	}
	return decimal{c: c, s: int8(scale)}, nil
}

// decimalOf is the decimal value of an integer.
func decimalOf(i int64) decimal { return decimal{c: i} }

// rescale returns d with scale s (s >= d.s) or an overflow.
func (d decimal) rescale(s int8) (decimal, error) {
	c := d.c
	for k := d.s; k < s; k++ {
		if c > math.MaxInt64/10 || c < math.MinInt64/10 {
			return decimal{}, errOverflow
		}
		c *= 10
	}
	return decimal{c: c, s: s}, nil
}

// align brings two decimals to the same scale.
func align(a, b decimal) (decimal, decimal, error) {
	var err error
	switch {
	case a.s < b.s:
		a, err = a.rescale(b.s)
	case b.s < a.s:
		b, err = b.rescale(a.s)
	}
	return a, b, err
}

func (a decimal) add(b decimal) (decimal, error) {
	a, b, err := align(a, b)
	if err != nil {
		return decimal{}, err
	}
	c := a.c + b.c
	if (c > a.c) != (b.c > 0) {
		return decimal{}, errOverflow
	}
	return decimal{c: c, s: a.s}, nil
}

func (a decimal) neg() decimal { return decimal{c: -a.c, s: a.s} }

func (a decimal) sub(b decimal) (decimal, error) { return a.add(b.neg()) }

func (a decimal) mul(b decimal) (decimal, error) {
	hi, lo := bits.Mul64(uint64(abs64(a.c)), uint64(abs64(b.c)))
	if hi != 0 || lo > math.MaxInt64 {
		return decimal{}, errOverflow
	}
	c := int64(lo)
	if (a.c < 0) != (b.c < 0) {
		c = -c
	}
	r := decimal{c: c, s: a.s + b.s}
	if r.s > maxScale {
		r = r.round(maxScale)
	}
	return r, nil
}

// div divides to maxScale digits, rounding half away from zero, and drops
// trailing zeros (10 / 4 is 2.5, 12.5 / 0.5 is 25). Division by zero is the
// caller's to handle (the result is empty).
func (a decimal) div(b decimal) (decimal, error) {
	// a/b = (a.c × 10^(maxScale + b.s - a.s)) / b.c at scale maxScale.
	shift := int(maxScale) + int(b.s) - int(a.s)
	num := a.c
	for ; shift > 0; shift-- {
		if num > math.MaxInt64/10 || num < math.MinInt64/10 {
			return decimal{}, errOverflow
		}
		num *= 10
	}
	den := b.c
	for ; shift < 0; shift++ {
		if den > math.MaxInt64/10 || den < math.MinInt64/10 {
			return decimal{}, errOverflow
		}
		den *= 10
	}
	q, r := num/den, num%den
	if 2*abs64(r) >= abs64(den) {
		if (num < 0) != (den < 0) {
			q--
		} else {
			q++
		}
	}
	return decimal{c: q, s: maxScale}.trim(0), nil
}

// trim drops trailing zeros beyond keep digits after the point.
func (a decimal) trim(keep int8) decimal {
	for a.s > keep && a.c%10 == 0 {
		a.c /= 10
		a.s--
	}
	return a
}

// round rounds to s digits after the point, half away from zero.
func (a decimal) round(s int8) decimal {
	if s >= a.s {
		r, err := a.rescale(s)
		if err != nil {
			return a
		}
		return r
	}
	for a.s-s > 18 { // beyond int64's digits: the value rounds to 0 at s+18
		a = decimal{c: 0, s: a.s - 1}
	}
	p := pow10[a.s-s]
	q, r := a.c/p, a.c%p
	if 2*abs64(r) >= p {
		if a.c < 0 {
			q--
		} else {
			q++
		}
	}
	return decimal{c: q, s: s}
}

// cmp compares values (not precision): -1, 0 or 1.
func (a decimal) cmp(b decimal) int {
	x, y, err := align(a, b)
	if err != nil { // one is far larger; compare as floats
		return cmpFloat(a.float(), b.float())
	}
	switch {
	case x.c < y.c:
		return -1
	case x.c > y.c:
		return 1
	}
	return 0
}

func (a decimal) float() float64 { return float64(a.c) / math.Pow10(int(a.s)) }

// isInteger reports whether the value has no fractional part.
func (a decimal) isInteger() bool { return a.trim(0).s == 0 }

// String writes the decimal with its scale: 1.50 stays 1.50.
func (a decimal) String() string {
	neg := a.c < 0
	digits := strconv.FormatUint(uint64(abs64(a.c)), 10)
	if a.s > 0 {
		for len(digits) <= int(a.s) {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-int(a.s)] + "." + digits[len(digits)-int(a.s):]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
