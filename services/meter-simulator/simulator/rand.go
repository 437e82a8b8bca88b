package simulator

// Salts keep the streams of random numbers of different purposes apart.
const (
	saltMeter uint64 = iota + 1
	saltNoise
	saltVoltage
	saltDelay
	saltMissing
	saltDuplicate
	saltOutOfOrder
	saltMalformed
	saltMalformedKind
)

// mix hashes a seed, an index and a salt into 64 well-mixed bits
// (SplitMix64's finaliser). It is what makes every value a pure function of
// (seed, meter, interval), independent of generation order.
func mix(seed, i, salt uint64) uint64 {
	z := seed ^ (i * 0x9E3779B97F4A7C15) ^ (salt * 0xD1B54A32D192ED03)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// unit maps 64 random bits to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) * (1.0 / (1 << 53)) }

// chance reports whether the event of probability p happens for this key.
func chance(p float64, seed, i, salt uint64) bool {
	if p <= 0 {
		return false
	}
	return unit(mix(seed, i, salt)) < p
}

// rng is a tiny SplitMix64 stream for per-meter parameters.
type rng struct{ s uint64 }

func newRand(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) float() float64 { return unit(r.next()) }
