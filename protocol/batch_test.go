package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
)

// smallOrder holds encodings of points of order 8, 4, 2 and 1: adding one
// to a key or to R splits the cofactored and cofactorless verdicts.
var smallOrder = [][]byte{
	mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
	mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
	mustHex("0000000000000000000000000000000000000000000000000000000000000000"),
	mustHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
	mustHex("0100000000000000000000000000000000000000000000000000000000000000"),
}

// order is the prime order L of the base point, little-endian.
var order = mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func decodePoint(t testing.TB, enc []byte) *curve.EdwardsPoint {
	t.Helper()
	var comp curve.CompressedEdwardsY
	var p curve.EdwardsPoint
	if _, err := comp.SetBytes(enc); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetCompressedY(&comp); err != nil {
		t.Fatal(err)
	}
	return &p
}

func encodePoint(p *curve.EdwardsPoint) []byte {
	var comp curve.CompressedEdwardsY
	comp.SetEdwardsPoint(p)
	return comp[:]
}

// wideScalar reduces 64 bytes drawn from seed and salt modulo L.
func wideScalar(seed []byte, salt string) *scalar.Scalar {
	h := sha512.Sum512(append([]byte(salt), seed...))
	s := scalar.New()
	if _, err := s.SetBytesModOrderWide(h[:]); err != nil {
		panic(err)
	}
	return s
}

// forge signs raw's signed message by hand with secret a, adding the
// small-order point aT (nil: none) to the key and rT to R: the signature
// satisfies the cofactored equation whatever they are, and crypto/ed25519's
// cofactorless one only when both are nil.
func forge(t testing.TB, seed []byte, raw []byte, aT, rT *curve.EdwardsPoint) (ed25519.PublicKey, []byte) {
	a, r := wideScalar(seed, "a"), wideScalar(seed, "r")
	var A, R curve.EdwardsPoint
	A.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, a)
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, r)
	if aT != nil {
		A.Add(&A, aT)
	}
	if rT != nil {
		R.Add(&R, rT)
	}
	pub, rEnc := encodePoint(&A), encodePoint(&R)
	h := sha512.New()
	h.Write(rEnc)
	h.Write(pub)
	h.Write(signedMessage(raw))
	k := scalar.New()
	if _, err := k.SetBytesModOrderWide(h.Sum(nil)); err != nil {
		t.Fatal(err)
	}
	var s scalar.Scalar
	s.Add(r, s.Mul(k, a))
	sig := make([]byte, 64)
	copy(sig, rEnc)
	if err := s.ToBytes(sig[32:]); err != nil {
		t.Fatal(err)
	}
	return pub, sig
}

// addOrder returns sig with L added to S: the same point, a non-canonical
// scalar that crypto/ed25519 refuses.
func addOrder(sig []byte) []byte {
	out := append([]byte(nil), sig...)
	var carry uint16
	for i := range 32 {
		v := uint16(out[32+i]) + uint16(order[i]) + carry
		out[32+i], carry = byte(v), v>>8
	}
	return out
}

// mixedSignatures builds n signatures from data, each either valid or
// spoiled in one of the ways that must make batch and one-by-one
// verification disagree if the batch is careless.
func mixedSignatures(t testing.TB, data []byte, n int) ([]ed25519.PublicKey, [][]byte, [][]byte) {
	keys := make([]ed25519.PrivateKey, 3)
	for i := range keys {
		keys[i] = ed25519.NewKeyFromSeed(sha512.New().Sum([]byte{byte(i)})[:32])
	}
	pubs := make([]ed25519.PublicKey, n)
	raws := make([][]byte, n)
	sigs := make([][]byte, n)
	for i := range n {
		var op byte
		if len(data) > 0 {
			op = data[i%len(data)]
		}
		raw := fmt.Appendf(nil, `{"id":"x%d","data":%q}`, i, data)
		key := keys[int(op>>4)%len(keys)]
		pubs[i], raws[i] = key.Public().(ed25519.PublicKey), raw
		sigs[i] = ed25519.Sign(key, signedMessage(raw))
		seed := binary.LittleEndian.AppendUint64(append([]byte(nil), data...), uint64(i))
		switch op % 16 {
		case 0: // tampered change
			raws[i] = append(append([]byte(nil), raw...), ' ')
		case 1: // tampered signature
			sigs[i][int(op)%64] ^= 1 << (op % 8)
		case 2: // another owner's key
			pubs[i] = keys[(int(op>>4)+1)%len(keys)].Public().(ed25519.PublicKey)
		case 3: // malformed lengths
			sigs[i] = sigs[i][:int(op)%64]
		case 4:
			pubs[i] = pubs[i][:int(op)%32]
		case 5: // non-canonical S
			sigs[i] = addOrder(sigs[i])
		case 6: // torsion in R: cofactored yes, cofactorless no
			pubs[i], sigs[i] = forge(t, seed, raw, nil, decodePoint(t, smallOrder[int(op>>4)%len(smallOrder)]))
		case 7: // torsion in the key
			pubs[i], sigs[i] = forge(t, seed, raw, decodePoint(t, smallOrder[int(op>>4)%len(smallOrder)]), nil)
		case 8: // a small-order key and R with S = 0: crypto/ed25519 accepts the identity for any message
			pubs[i] = smallOrder[int(op>>4)%len(smallOrder)]
			sigs[i] = append(append([]byte(nil), smallOrder[int(op>>5)%len(smallOrder)]...), make([]byte, 32)...)
		case 9: // a valid signature forged by hand
			pubs[i], sigs[i] = forge(t, seed, raw, nil, nil)
		}
	}
	return pubs, raws, sigs
}

func checkAgrees(t testing.TB, pubs []ed25519.PublicKey, raws, sigs [][]byte) []bool {
	t.Helper()
	got := VerifySignatures(pubs, raws, sigs)
	for i := range pubs {
		if want := VerifySignature(pubs[i], raws[i], sigs[i]); got[i] != want {
			t.Fatalf("signature %d: batch says %v, crypto/ed25519 says %v", i, got[i], want)
		}
	}
	return got
}

func TestVerifySignatures(t *testing.T) {
	valid := func(t *testing.T, n int) ([]ed25519.PublicKey, [][]byte, [][]byte) {
		return mixedSignatures(t, []byte{0xff}, n)
	}
	t.Run("all valid", func(t *testing.T) {
		pubs, raws, sigs := valid(t, 2*minBatch)
		for i, ok := range checkAgrees(t, pubs, raws, sigs) {
			if !ok {
				t.Fatalf("signature %d refused", i)
			}
		}
	})
	for op, name := range []string{"tampered change", "tampered signature", "wrong key", "short signature", "short key",
		"non-canonical S", "torsion in R", "torsion in key", "small-order key and R", "forged valid"} {
		t.Run(name, func(t *testing.T) {
			for variant := range 5 {
				pubs, raws, sigs := valid(t, minBatch+10)
				one := byte(op) | byte(variant)<<4
				p, r, s := mixedSignatures(t, []byte{one}, 1)
				pubs[17], raws[17], sigs[17] = p[0], r[0], s[0]
				got := checkAgrees(t, pubs, raws, sigs)
				for i, ok := range got {
					if i != 17 && !ok {
						t.Fatalf("valid signature %d refused beside a spoiled one", i)
					}
				}
			}
		})
	}
	t.Run("torsion in R is refused", func(t *testing.T) {
		// The case the batch equation alone would accept.
		pubs, raws, sigs := valid(t, minBatch)
		for i := range 8 {
			pubs[i*5], sigs[i*5] = forge(t, []byte{byte(i)}, raws[i*5], nil, decodePoint(t, smallOrder[i%4]))
		}
		for i, ok := range checkAgrees(t, pubs, raws, sigs) {
			if ok == (i%5 == 0 && i < 40) {
				t.Fatalf("signature %d: verdict %v", i, ok)
			}
		}
	})
}

// FuzzVerifySignatures holds the batch verifier to crypto/ed25519 verifying
// one by one, over mixes of valid and spoiled signatures.
func FuzzVerifySignatures(f *testing.F) {
	// Sets of at least minBatch signatures are verified as batches.
	f.Add([]byte{0xff}, uint8(minBatch))
	f.Add([]byte{0xff, 0xff, 0x06, 0xff, 0x16, 0xff}, uint8(minBatch+20))
	f.Add(append(bytes.Repeat([]byte{0xff}, 2*minBatch), 0x26), uint8(2*minBatch+1))
	for op := range byte(10) {
		f.Add([]byte{0xff, op, 0xff, op | 0x30}, uint8(minBatch+4))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		pubs, raws, sigs := mixedSignatures(t, data, int(n))
		checkAgrees(t, pubs, raws, sigs)
	})
}

// BenchmarkVerifySignatures compares verifying 1,000 signatures of one key
// one by one and as batches, each on every core.
func BenchmarkVerifySignatures(b *testing.B) {
	const n = 1000
	pubs, raws, sigs := mixedSignatures(b, []byte{0xff}, n)
	for i := range pubs {
		pubs[i] = pubs[0]
	}
	key := ed25519.NewKeyFromSeed(sha512.New().Sum([]byte{0})[:32])
	for i := range sigs {
		sigs[i] = ed25519.Sign(key, signedMessage(raws[i]))
		pubs[i] = key.Public().(ed25519.PublicKey)
	}
	run := func(b *testing.B, chunk int, verify func(lo, hi int)) {
		for b.Loop() {
			inChunks(n, chunk, verify)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sigs/s")
	}
	b.Run("one-by-one", func(b *testing.B) {
		run(b, 1, func(lo, _ int) {
			if !VerifySignature(pubs[lo], raws[lo], sigs[lo]) {
				b.Fatal("refused")
			}
		})
	})
	for _, chunk := range []int{64, 96, 125, 250, 500} {
		b.Run(fmt.Sprintf("batch-%d", chunk), func(b *testing.B) {
			run(b, chunk, func(lo, hi int) {
				for _, ok := range VerifySignatures(pubs[lo:hi], raws[lo:hi], sigs[lo:hi]) {
					if !ok {
						b.Fatal("refused")
					}
				}
			})
		})
	}
}

func TestTorsionFree(t *testing.T) {
	var b curve.EdwardsPoint
	b.Set(curve.ED25519_BASEPOINT_POINT)
	if !timesOrderIsIdentity(&b) || !torsionFree([]*curve.EdwardsPoint{&b, &b, &b}) {
		t.Fatal("the base point is torsion-free")
	}
	for i, enc := range smallOrder[:4] {
		var mixed curve.EdwardsPoint
		mixed.Add(&b, decodePoint(t, enc))
		if timesOrderIsIdentity(&mixed) {
			t.Fatalf("small-order point %d: B + T taken for torsion-free", i)
		}
		for n := range 9 {
			rs := make([]*curve.EdwardsPoint, 9)
			for j := range rs {
				rs[j] = &b
			}
			rs[n] = &mixed
			if torsionFree(rs) {
				t.Fatalf("small-order point %d at %d of 9 missed", i, n)
			}
		}
	}
}

// The batch equation itself, not only the verdicts VerifySignatures returns
// (a batch that always failed would fall back to verifying one by one and
// give the same verdicts): it holds for valid signatures of several keys
// and fails when one signature, message or key is wrong.
func TestBatchEquation(t *testing.T) {
	const n = 200
	seeds := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
	pubs := make([]ed25519.PublicKey, n)
	raws, sigs := make([][]byte, n), make([][]byte, n)
	for i := range n {
		key := ed25519.NewKeyFromSeed(seeds[i%len(seeds)])
		if i%7 == 0 {
			key = ed25519.NewKeyFromSeed(seeds[0]) // one key with most of the batch
		}
		pubs[i] = key.Public().(ed25519.PublicKey)
		raws[i] = fmt.Appendf(nil, `{"n":%d}`, i)
		sigs[i] = ed25519.Sign(key, signedMessage(raws[i]))
	}
	run := func(pubs []ed25519.PublicKey, raws, sigs [][]byte) bool {
		keys := make(map[string]*curve.EdwardsPoint)
		var batch []int
		var rs []*curve.EdwardsPoint
		for i := range pubs {
			if _, seen := keys[string(pubs[i])]; !seen {
				keys[string(pubs[i])] = batchableKey(pubs[i])
			}
			r := batchableSig(sigs[i])
			if keys[string(pubs[i])] == nil || r == nil {
				t.Fatalf("signature %d cannot join a batch", i)
			}
			batch, rs = append(batch, i), append(rs, r)
		}
		return batchEquation(pubs, raws, sigs, batch, rs, keys)
	}
	if !run(pubs, raws, sigs) {
		t.Fatal("valid signatures of three keys fail the batch equation")
	}
	tamper := func(what string, f func(pubs []ed25519.PublicKey, raws, sigs [][]byte)) {
		p := append([]ed25519.PublicKey(nil), pubs...)
		r := append([][]byte(nil), raws...)
		s := append([][]byte(nil), sigs...)
		f(p, r, s)
		if run(p, r, s) {
			t.Errorf("%s: the batch equation holds", what)
		}
	}
	tamper("a message changed", func(_ []ed25519.PublicKey, raws, _ [][]byte) { raws[57] = []byte(`{"n":0}`) })
	tamper("S changed", func(_ []ed25519.PublicKey, _, sigs [][]byte) {
		sigs[3] = append([]byte(nil), sigs[3]...)
		sigs[3][40] ^= 1
	})
	tamper("another key's signature", func(_ []ed25519.PublicKey, _, sigs [][]byte) { sigs[1] = sigs[2] })
	tamper("another key named", func(pubs []ed25519.PublicKey, _, _ [][]byte) { pubs[199] = pubs[0] })
}
