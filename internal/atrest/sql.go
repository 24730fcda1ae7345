package atrest

import (
	"crypto/sha256"
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"
)

// The SQL functions, registered for every connection the driver opens:
//
//	atrest_compress(x)   x as Compress stores it (NULL stays NULL)
//	atrest_decompress(x) the bytes x holds, as Decompress (NULL stays NULL)
//	atrest_sha256(x)     the SHA-256 of the bytes x holds (NULL stays NULL)
//
// Both are deterministic, so a generated column or an index may use them:
// a schema keeps the compressed value and derives the signed bytes from it,
// and queries written against the signed bytes read them unchanged.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("atrest_compress", 1, sqlFunc(Compress))
	sqlite.MustRegisterDeterministicScalarFunction("atrest_decompress", 1, sqlFunc(Decompress))
	sqlite.MustRegisterDeterministicScalarFunction("atrest_sha256", 1, sqlFunc(func(b []byte) ([]byte, error) {
		b, err := Decompress(b)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(b)
		return h[:], nil
	}))
}

func sqlFunc(f func([]byte) ([]byte, error)) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
	return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		b, err := Bytes(args[0])
		if err != nil || b == nil {
			return nil, err
		}
		return f(b)
	}
}

// Bytes is the argument of a SQL function as bytes: a BLOB or TEXT value, or
// nil for NULL.
func Bytes(v driver.Value) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	default:
		return nil, fmt.Errorf("atrest: %T is not a stored change", v)
	}
}
