package password

import "testing"

// BenchmarkHash measures one argon2id hash with DefaultParams on one
// core; BENCHMARKS.md ("Password hashing") records the result and how
// the parameters were chosen from it:
//
//	go test -run '^$' -bench 'Hash' -benchtime 20x -cpu 1 ./internal/password/
func BenchmarkHash(b *testing.B) {
	for _, p := range []struct {
		name string
		p    Params
	}{
		{"m=19MiB,t=2", Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"m=32MiB,t=2(default)", DefaultParams},
		{"m=64MiB,t=1", Params{Memory: 64 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"m=64MiB,t=2", Params{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		b.Run(p.name, func(b *testing.B) {
			h := NewHasher(p.p, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
