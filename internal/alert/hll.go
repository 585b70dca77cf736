package alert

import (
	"math"
	"math/bits"
)

// hllP is the precision of the sliding HyperLogLog: 2^12 registers, a
// standard error of 1.04/sqrt(4096) ≈ 1.6 %.
const hllP = 12

const hllM = 1 << hllP

// hllEntry is a candidate maximum of one register: rho seen in bucket idx.
type hllEntry struct {
	idx uint32
	rho uint8
}

// slidingHLL estimates the distinct values of a sliding window in bounded
// memory: a HyperLogLog (Flajolet et al. 2007) whose registers keep, in
// place of one maximum, the maxima that may still become the register's
// value as older buckets leave the window (the "list of possible future
// maxima" of Chabchoub & Hébrail's sliding HyperLogLog). Each register's
// list is ordered by bucket with strictly falling rho, so it holds at most
// 64-hllP+1 entries and usually one or two.
type slidingHLL struct {
	regs [hllM][]hllEntry
}

// hash64 is FNV-1a finished with the splitmix64 mixer: deterministic (tests
// and restarts see the same estimate) and well spread in every bit.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// add records v as seen in bucket idx (in any order of buckets).
func (h *slidingHLL) add(v string, idx int64) {
	x := hash64(v)
	reg := x >> (64 - hllP)
	rho := uint8(min(bits.LeadingZeros64(x<<hllP|1<<(hllP-1))+1, 64-hllP+1))
	l := h.regs[reg]
	for _, e := range l {
		if int64(e.idx) >= idx && e.rho >= rho {
			return // a newer or same bucket holds as much
		}
	}
	out := l[:0]
	at := -1
	for _, e := range l {
		if int64(e.idx) <= idx && e.rho <= rho {
			continue // dominated by the new entry
		}
		if at < 0 && int64(e.idx) > idx {
			at = len(out)
		}
		out = append(out, e)
	}
	if at < 0 {
		at = len(out)
	}
	out = append(out, hllEntry{})
	copy(out[at+1:], out[at:])
	out[at] = hllEntry{idx: uint32(idx), rho: rho}
	h.regs[reg] = out
}

// expire forgets every entry of a bucket <= from.
func (h *slidingHLL) expire(from int64) {
	for i, l := range h.regs {
		n := 0
		for n < len(l) && int64(l[n].idx) <= from {
			n++
		}
		if n > 0 {
			h.regs[i] = append(l[:0], l[n:]...)
		}
	}
}

// estimate is the HyperLogLog estimate of the distinct values added in
// live buckets, with linear counting for small cardinalities.
func (h *slidingHLL) estimate() float64 {
	sum, zeros := 0.0, 0
	for _, l := range h.regs {
		rho := 0
		if len(l) > 0 {
			rho = int(l[0].rho) // the oldest live entry has the greatest rho
		}
		if rho == 0 {
			zeros++
		}
		sum += math.Ldexp(1, -rho)
	}
	const m = float64(hllM)
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		return m * math.Log(m/float64(zeros))
	}
	return e
}
