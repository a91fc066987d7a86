package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/privlink/privlink/internal/awsapi/sigv4"
)

const body = "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b"

func signed(t *testing.T, at time.Time, secret string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	h := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), "ec2", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerify(t *testing.T) {
	now := time.Now().UTC()
	tests := []struct {
		name    string
		req     func() *http.Request
		body    string
		secret  string
		at      time.Time
		wantErr error
	}{
		{name: "valid", req: func() *http.Request { return signed(t, now, "s3cret") }, body: body, secret: "s3cret", at: now},
		{name: "wrong secret", req: func() *http.Request { return signed(t, now, "other") }, body: body, secret: "s3cret", at: now, wantErr: sigv4.ErrSignatureMismatch},
		{name: "tampered body", req: func() *http.Request { return signed(t, now, "s3cret") }, body: body + "&x=1", secret: "s3cret", at: now, wantErr: sigv4.ErrSignatureMismatch},
		{name: "tampered header", req: func() *http.Request {
			r := signed(t, now, "s3cret")
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, body: body, secret: "s3cret", at: now, wantErr: sigv4.ErrSignatureMismatch},
		{name: "too old", req: func() *http.Request { return signed(t, now.Add(-20*time.Minute), "s3cret") }, body: body, secret: "s3cret", at: now, wantErr: sigv4.ErrExpired},
		{name: "from the future", req: func() *http.Request { return signed(t, now.Add(20*time.Minute), "s3cret") }, body: body, secret: "s3cret", at: now, wantErr: sigv4.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			s, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if s.Credential != (sigv4.Credential{AccessKeyID: "AKIDEXAMPLE", Date: s.Time.Format("20060102"), Region: "us-east-1", Service: "ec2"}) {
				t.Errorf("credential = %+v", s.Credential)
			}
			err = sigv4.Verify(r, []byte(tc.body), s, tc.secret, tc.at)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestPresigned(t *testing.T) {
	now := time.Now().UTC()
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15", nil)
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "60")
	r.URL.RawQuery = q.Encode()
	empty := sha256.Sum256(nil)
	url, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "s3cret"}, r, hex.EncodeToString(empty[:]), "sts", "us-east-1", now)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := http.NewRequest(http.MethodGet, url, nil)
	s, err := sigv4.Parse(pr)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Presigned || s.Expires != time.Minute {
		t.Fatalf("parsed %+v", s)
	}
	if err := sigv4.Verify(pr, nil, s, "s3cret", now.Add(30*time.Second)); err != nil {
		t.Fatalf("fresh presigned URL: %v", err)
	}
	if err := sigv4.Verify(pr, nil, s, "s3cret", now.Add(2*time.Minute)); !errors.Is(err, sigv4.ErrExpired) {
		t.Fatalf("after expiry: %v, want ErrExpired", err)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for name, auth := range map[string]string{
		"other algorithm":   "AWS4-HMAC-SHA512 Credential=a/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
		"short credential":  "AWS4-HMAC-SHA256 Credential=a/20260101/ec2/aws4_request, SignedHeaders=host, Signature=00",
		"missing signature": "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host",
		"no equals":         "AWS4-HMAC-SHA256 Credential",
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://h/", nil)
			r.Header.Set("Authorization", auth)
			r.Header.Set("X-Amz-Date", "20260101T000000Z")
			if _, err := sigv4.Parse(r); !errors.Is(err, sigv4.ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
	r, _ := http.NewRequest(http.MethodPost, "http://h/", nil)
	if _, err := sigv4.Parse(r); !errors.Is(err, sigv4.ErrMissing) {
		t.Fatalf("unsigned: %v, want ErrMissing", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "20260101T000000Z", "X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r, err := http.NewRequest(http.MethodPost, "http://h/?"+query, strings.NewReader("Action=X"))
		if err != nil {
			return
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		r.Header.Set("X-Amz-Date", date)
		s, err := sigv4.Parse(r)
		if err != nil {
			return
		}
		_ = sigv4.Verify(r, []byte("Action=X"), s, "secret", time.Now())
	})
}
