package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
)

// torsionRounds is how many random combinations of a batch's R points are
// checked for a torsion component. A signature whose R carries one passes
// the cofactored batch equation but not crypto/ed25519's cofactorless one;
// each round misses such an R with probability at most 1/2, so an R crafted
// to split the two verdicts gets through one batch with probability 2^-64.
const torsionRounds = 64

// minBatch is the fewest signatures verified as a batch: below it, the
// fixed cost of checking the R points for torsion outweighs what the batch
// saves (BenchmarkVerifySignatures: batches of 64 gain nothing, of 96 about
// a tenth, of 250 nearly half).
const minBatch = 96

// VerifyBatchAt is VerifyAt for many changes at once: signed[i] sequenced at
// hubSeqs[i] (nil: none sequenced yet, as in a push). Every check but the
// signature arithmetic runs on each change as VerifyAt runs it; the
// signatures that pass them are verified together as one Ed25519 batch,
// about half the work of verifying them one by one. It returns what
// VerifyAt returns for each change, in order.
func VerifyBatchAt(signed []Signed, hubSeqs []int64, keys KeyLookup) ([]*Change, []error) {
	changes := make([]*Change, len(signed))
	errs := make([]error, len(signed))
	pubs := make([]ed25519.PublicKey, 0, len(signed))
	raws := make([][]byte, 0, len(signed))
	sigs := make([][]byte, 0, len(signed))
	idx := make([]int, 0, len(signed))
	for i, s := range signed {
		var hubSeq int64
		if hubSeqs != nil {
			hubSeq = hubSeqs[i]
		}
		c, pub, err := checkKey(s, keys, hubSeq)
		changes[i], errs[i] = c, err
		if err == nil {
			pubs, raws, sigs, idx = append(pubs, pub), append(raws, s.Change), append(sigs, s.Sig), append(idx, i)
		}
	}
	for k, ok := range VerifySignatures(pubs, raws, sigs) {
		if !ok {
			errs[idx[k]] = errBadSignature()
		}
	}
	return changes, errs
}

// VerifySignatures reports for each i whether VerifySignature(pubs[i],
// raws[i], sigs[i]) holds, with the same verdict on every input. The
// signatures are verified as one batch; when the batch fails, each is
// verified alone, so a bad signature costs its batch the saving but is still
// named, and the rest pass.
//
// crypto/ed25519 checks the cofactorless equation [S]B = R + [k]A and
// accepts non-canonical encodings of A; batch verification can only check
// the cofactored one, [8]([S]B - R - [k]A) = 0. The two agree when neither
// R nor A has a component of small order, so only signatures whose key is
// canonical and torsion-free and whose R and S are canonical join the batch
// (the rest are verified alone), and the batch passes only when its R
// points show no torsion either. Whatever the batch refuses is verified
// alone by crypto/ed25519, so the batch can only ever confirm its verdict.
func VerifySignatures(pubs []ed25519.PublicKey, raws, sigs [][]byte) []bool {
	ok := make([]bool, len(pubs))
	if len(pubs) < minBatch {
		for i := range pubs {
			ok[i] = VerifySignature(pubs[i], raws[i], sigs[i])
		}
		return ok
	}
	// A push or a page holds the changes of a few keys: each is checked
	// and decompressed for the batch once.
	keys := make(map[string]*curve.EdwardsPoint)
	var (
		batch   []int
		rPoints []*curve.EdwardsPoint
	)
	for i := range pubs {
		a, seen := keys[string(pubs[i])]
		if !seen {
			a = batchableKey(pubs[i])
			keys[string(pubs[i])] = a
		}
		var r *curve.EdwardsPoint
		if a != nil {
			r = batchableSig(sigs[i])
		}
		if r == nil {
			ok[i] = VerifySignature(pubs[i], raws[i], sigs[i])
			continue
		}
		batch = append(batch, i)
		rPoints = append(rPoints, r)
	}
	switch {
	case len(batch) < minBatch:
		for _, i := range batch {
			ok[i] = VerifySignature(pubs[i], raws[i], sigs[i])
		}
	default:
		if batchEquation(pubs, raws, sigs, batch, rPoints, keys) && torsionFree(rPoints) {
			for _, i := range batch {
				ok[i] = true
			}
			break
		}
		for _, i := range batch {
			ok[i] = VerifySignature(pubs[i], raws[i], sigs[i])
		}
	}
	return ok
}

// batchEquation checks the signatures batch names (indexes into pubs, raws
// and sigs, whose R points are rs) with the cofactored batch equation
//
//	[8]([-Σ z_i s_i]B + Σ [z_i]R_i + Σ [z_i k_i]A_i) = 0
//
// for random 128-bit z_i, as curve25519-voi's batch verifier does, where
// k_i = SHA-512(R_i || A_i || message_i) mod L. The terms of one key are
// summed into one, [Σ z_i k_i]A, so a batch of one key costs a
// multiplication of n + 2 points instead of 2n + 1; and the R points that
// batchableSig decompressed are used, not decompressed again. keys maps
// each public key to its point.
func batchEquation(pubs []ed25519.PublicKey, raws, sigs [][]byte, batch []int, rs []*curve.EdwardsPoint, keys map[string]*curve.EdwardsPoint) bool {
	zBytes := make([]byte, 16*len(batch))
	if _, err := rand.Read(zBytes); err != nil {
		panic(fmt.Sprintf("read random coefficients: %v", err))
	}
	keyTerm := make(map[string]int) // the index of a key's term
	scalars := make([]*scalar.Scalar, 1, 2+len(batch))
	points := make([]*curve.EdwardsPoint, 1, 2+len(batch))
	bCoeff := scalar.New()
	scalars[0], points[0] = bCoeff, curve.ED25519_BASEPOINT_POINT
	zs := make([]scalar.Scalar, len(batch))
	h := sha512.New()
	var wide [32]byte
	var digest [sha512.Size]byte
	for j, i := range batch {
		copy(wide[:16], zBytes[16*j:])
		z := &zs[j]
		if _, err := z.SetCanonicalBytes(wide[:]); err != nil {
			return false
		}
		var s, k, t scalar.Scalar
		if _, err := s.SetCanonicalBytes(sigs[i][32:]); err != nil {
			return false
		}
		h.Reset()
		h.Write(sigs[i][:32])
		h.Write(pubs[i])
		h.Write([]byte(signingContext))
		h.Write(raws[i])
		if _, err := k.SetBytesModOrderWide(h.Sum(digest[:0])); err != nil {
			return false
		}
		bCoeff.Add(bCoeff, t.Mul(z, &s))
		term, seen := keyTerm[string(pubs[i])]
		if !seen {
			term = len(scalars)
			keyTerm[string(pubs[i])] = term
			scalars, points = append(scalars, scalar.New()), append(points, keys[string(pubs[i])])
		}
		scalars[term].Add(scalars[term], t.Mul(z, &k))
	}
	bCoeff.Neg(bCoeff)
	for j := range batch {
		scalars, points = append(scalars, &zs[j]), append(points, rs[j])
	}
	var sum curve.EdwardsPoint
	return sum.MultiscalarMulVartime(scalars, points).IsSmallOrder()
}

// batchableKey returns pub's point when pub is a key whose signatures the
// batch judges as crypto/ed25519 does: a canonical encoding of a point of
// the prime-order subgroup (keys made by ed25519.GenerateKey always are);
// nil otherwise.
func batchableKey(pub ed25519.PublicKey) *curve.EdwardsPoint {
	if len(pub) != ed25519.PublicKeySize {
		return nil
	}
	var comp curve.CompressedEdwardsY
	if _, err := comp.SetBytes(pub); err != nil || !comp.IsCanonicalVartime() {
		return nil
	}
	var a curve.EdwardsPoint
	if _, err := a.SetCompressedY(&comp); err != nil {
		return nil
	}
	if a.IsSmallOrder() || !a.IsTorsionFree() {
		return nil
	}
	return &a
}

// batchableSig returns sig's R when sig may join a batch: 64 bytes, a
// canonical S and a canonical R on the curve. Whether R is torsion-free is
// checked for the whole batch at once.
func batchableSig(sig []byte) *curve.EdwardsPoint {
	if len(sig) != ed25519.SignatureSize || !scalar.ScMinimalVartime(sig[32:]) {
		return nil
	}
	var comp curve.CompressedEdwardsY
	if _, err := comp.SetBytes(sig[:32]); err != nil || !comp.IsCanonicalVartime() {
		return nil
	}
	var r curve.EdwardsPoint
	if _, err := r.SetCompressedY(&comp); err != nil {
		return nil
	}
	return &r
}

// torsionFree reports whether every point of rs lies in the prime-order
// subgroup, up to a chance of 2^-torsionRounds of missing one that does not.
// Each round checks the sum of a random subset of the points: unless the
// torsion components of the points, elements of a cyclic group of order 8,
// are all zero, including or leaving out the one of lowest 2-adic order
// changes the sum's, so a round misses them with probability at most 1/2.
// Subset sums of each group of four points are computed once, so a round
// costs one addition per four signatures and one multiplication by L,
// against the two multiplications a signature costs alone.
func torsionFree(rs []*curve.EdwardsPoint) bool {
	const group = 4
	sums := make([][1 << group]curve.EdwardsPoint, (len(rs)+group-1)/group)
	for g := range sums {
		sums[g][0].Identity()
		for mask := 1; mask < 1<<group; mask++ {
			low := mask & -mask
			i := g*group + bits.TrailingZeros(uint(low))
			if i >= len(rs) {
				sums[g][mask].Set(&sums[g][mask&^low])
				continue
			}
			sums[g][mask].Add(&sums[g][mask&^low], rs[i])
		}
	}
	masks := make([]byte, len(sums))
	for range torsionRounds {
		if _, err := rand.Read(masks); err != nil {
			panic(fmt.Sprintf("read random subsets: %v", err))
		}
		var sum curve.EdwardsPoint
		sum.Identity()
		for g := range sums {
			if m := masks[g] & (1<<group - 1); m != 0 {
				sum.Add(&sum, &sums[g][m])
			}
		}
		if !timesOrderIsIdentity(&sum) {
			return false
		}
	}
	return true
}

// orderHigh and orderLow split the group order L = 2^252 + δ into two
// scalars below L, so that [L]P, which a scalar reduced modulo L cannot
// express, is computed as one variable-time double multiplication: the
// points are public, and variable time is faster than IsTorsionFree's.
var orderHigh, orderLow = func() (*scalar.Scalar, *scalar.Scalar) {
	var hi, lo [32]byte
	hi[31] = 0x10
	copy(lo[:16], []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14})
	h, err := scalar.NewFromCanonicalBytes(hi[:])
	if err != nil {
		panic(err)
	}
	l, err := scalar.NewFromCanonicalBytes(lo[:])
	if err != nil {
		panic(err)
	}
	return h, l
}()

func timesOrderIsIdentity(p *curve.EdwardsPoint) bool {
	var out curve.EdwardsPoint
	return out.MultiscalarMulVartime([]*scalar.Scalar{orderHigh, orderLow}, []*curve.EdwardsPoint{p, p}).IsIdentity()
}

// BatchSize is about how many changes are verified as one batch: a batch's
// signatures cost about half as much each as alone, plus a share of the
// fixed cost of checking its R points (64 multiplications by the group
// order, whatever the batch's size), which only several hundred signatures
// make small: batches of 500 verify about 1.8 times as many a second as
// batches of 250 (BenchmarkVerifySignatures).
const BatchSize = 400

// InBatches calls verify on consecutive ranges [lo, hi) covering n items, on
// every core, and returns when all are done: ranges are at most BatchSize
// long, and a set smaller than a batch per core is split evenly, so every
// core still works on it.
func InBatches(n int, verify func(lo, hi int)) {
	procs := runtime.GOMAXPROCS(0)
	inChunks(n, min(BatchSize, max(1, (n+procs-1)/procs)), verify)
}

func inChunks(n, chunk int, verify func(lo, hi int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk) {
		wg.Go(func() {
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				verify(lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
}
