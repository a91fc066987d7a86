// Package sigv4 verifies AWS Signature Version 4 on incoming requests, in the
// Authorization header or a presigned query string. It does not know who the
// keys belong to: the caller resolves access keys to secrets.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's timestamp may be from the server clock.
const MaxSkew = 15 * time.Minute

// Failure kinds, distinguished because AWS answers each with its own code.
var (
	ErrMissing           = errors.New("sigv4: request is not signed")
	ErrMalformed         = errors.New("sigv4: malformed signature")
	ErrExpired           = errors.New("sigv4: request expired")
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
	ErrUnknownKey        = errors.New("sigv4: unknown access key")
)

// Credential is the parsed credential scope of a signature.
type Credential struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
}

// Signature is everything parsed from a signed request before verification.
type Signature struct {
	Credential    Credential
	SignedHeaders []string
	Signature     string
	Time          time.Time
	Presigned     bool
	Expires       time.Duration // presigned only
	SecurityToken string
}

// Parse extracts the signature of r without verifying it.
func Parse(r *http.Request) (*Signature, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return parseHeader(r, auth)
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" {
		return parseQuery(q)
	}
	return nil, ErrMissing
}

func parseHeader(r *http.Request, auth string) (*Signature, error) {
	alg, rest, ok := strings.Cut(auth, " ")
	if !ok || alg != Algorithm {
		return nil, fmt.Errorf("%w: unsupported algorithm in Authorization header", ErrMalformed)
	}
	s := &Signature{SecurityToken: r.Header.Get("X-Amz-Security-Token")}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%w: Authorization component %q is not key=value", ErrMalformed, part)
		}
		switch k {
		case "Credential":
			c, err := parseCredential(v)
			if err != nil {
				return nil, err
			}
			s.Credential = c
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	if s.Credential.AccessKeyID == "" || len(s.SignedHeaders) == 0 || s.Signature == "" {
		return nil, fmt.Errorf("%w: Authorization header needs Credential, SignedHeaders and Signature", ErrMalformed)
	}
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	t, err := parseTime(date)
	if err != nil {
		return nil, err
	}
	s.Time = t
	return s, nil
}

func parseQuery(q url.Values) (*Signature, error) {
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, fmt.Errorf("%w: unsupported X-Amz-Algorithm", ErrMalformed)
	}
	c, err := parseCredential(q.Get("X-Amz-Credential"))
	if err != nil {
		return nil, err
	}
	t, err := parseTime(q.Get("X-Amz-Date"))
	if err != nil {
		return nil, err
	}
	exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || exp < 1 || exp > 604800 {
		return nil, fmt.Errorf("%w: X-Amz-Expires must be 1..604800 seconds", ErrMalformed)
	}
	s := &Signature{
		Credential:    c,
		SignedHeaders: strings.Split(q.Get("X-Amz-SignedHeaders"), ";"),
		Signature:     q.Get("X-Amz-Signature"),
		Time:          t,
		Presigned:     true,
		Expires:       time.Duration(exp) * time.Second,
		SecurityToken: q.Get("X-Amz-Security-Token"),
	}
	if s.Signature == "" || len(s.SignedHeaders) == 0 || s.SignedHeaders[0] == "" {
		return nil, fmt.Errorf("%w: presigned URL needs X-Amz-SignedHeaders and X-Amz-Signature", ErrMalformed)
	}
	return s, nil
}

func parseCredential(v string) (Credential, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" || len(parts[1]) != 8 || parts[2] == "" || parts[3] == "" {
		return Credential{}, fmt.Errorf("%w: credential %q must be <key>/<date>/<region>/<service>/aws4_request", ErrMalformed, v)
	}
	return Credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("%w: missing X-Amz-Date", ErrMalformed)
	}
	if t, err := time.Parse("20060102T150405Z", v); err == nil {
		return t, nil
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: bad date %q", ErrMalformed, v)
}

// Verify checks s against r (whose body is body) with secret at time now.
func Verify(r *http.Request, body []byte, s *Signature, secret string, now time.Time) error {
	if s.Presigned {
		if now.Before(s.Time.Add(-MaxSkew)) || now.After(s.Time.Add(s.Expires)) {
			return fmt.Errorf("%w: presigned URL valid from %s for %s", ErrExpired, s.Time.Format(time.RFC3339), s.Expires)
		}
	} else if d := now.Sub(s.Time); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: request time %s differs from server time by more than %s", ErrExpired, s.Time.Format(time.RFC3339), MaxSkew)
	}
	if s.Time.UTC().Format("20060102") != s.Credential.Date {
		return fmt.Errorf("%w: credential date %s does not match request date", ErrSignatureMismatch, s.Credential.Date)
	}
	want := hex.EncodeToString(hmacSHA256(signingKey(secret, s.Credential), StringToSign(r, body, s)))
	if !hmac.Equal([]byte(want), []byte(s.Signature)) {
		return ErrSignatureMismatch
	}
	return nil
}

// StringToSign builds the string that the signature covers.
func StringToSign(r *http.Request, body []byte, s *Signature) []byte {
	scope := s.Credential.Date + "/" + s.Credential.Region + "/" + s.Credential.Service + "/aws4_request"
	cr := CanonicalRequest(r, body, s)
	h := sha256.Sum256(cr)
	return []byte(Algorithm + "\n" + s.Time.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(h[:]))
}

// CanonicalRequest builds the canonical form of r defined by SigV4.
func CanonicalRequest(r *http.Request, body []byte, s *Signature) []byte {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, s.Presigned))
	b.WriteByte('\n')
	for _, h := range s.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash(r, body, s))
	return []byte(b.String())
}

func payloadHash(r *http.Request, body []byte, s *Signature) string {
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" {
		return v
	}
	if s.Presigned && len(body) == 0 && r.Method == http.MethodGet {
		// Presigned query-API URLs hash an empty payload.
		h := sha256.Sum256(nil)
		return hex.EncodeToString(h[:])
	}
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

func headerValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	vals := r.Header.Values(http.CanonicalHeaderKey(name))
	if name == "content-length" && len(vals) == 0 && r.ContentLength >= 0 {
		return strconv.FormatInt(r.ContentLength, 10)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{uriEncode(dk), uriEncode(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes everything but unreserved characters (RFC 3986).
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func signingKey(secret string, c Credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(c.Date))
	k = hmacSHA256(k, []byte(c.Region))
	k = hmacSHA256(k, []byte(c.Service))
	return hmacSHA256(k, []byte("aws4_request"))
}
