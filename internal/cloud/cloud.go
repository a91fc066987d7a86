// Package cloud holds privlink's domain model: resource types, IDs, ARNs,
// regions and availability zones, and the AWS-style error type. It performs
// no I/O and imports no other privlink package.
package cloud

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewID returns an AWS-shaped resource ID: prefix, a dash and 17 hex digits,
// e.g. "vpc-0a1b2c3d4e5f60718".
func NewID(prefix string) string {
	return prefix + "-" + randomHex(17)
}

// NewShortID returns prefix-8hex, the shape of older IDs such as prefix lists.
func NewShortID(prefix string) string {
	return prefix + "-" + randomHex(8)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("cloud: crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)[:n]
}

// RandomToken returns n random hex digits (request IDs, DNS name suffixes).
func RandomToken(n int) string { return randomHex(n) }

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Tags is an ordered tag set (sorted by key on write).
type Tags []Tag

// Get returns the value of key and whether it is set.
func (t Tags) Get(key string) (string, bool) {
	for _, tag := range t {
		if tag.Key == key {
			return tag.Value, true
		}
	}
	return "", false
}

// Meta is embedded in every stored resource: who owns it, where, since when.
type Meta struct {
	ID        string    `json:"id"`
	OwnerID   string    `json:"owner"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created"`
	Tags      Tags      `json:"tags,omitempty"`
}

// Base returns the embedded metadata (lets generic code reach every resource).
func (m *Meta) Base() *Meta { return m }

// Resource is implemented by every stored resource through Meta.
type Resource interface{ Base() *Meta }

// Filter is a describe filter: a name and values ORed together (glob
// wildcards * and ? allowed in values).
type Filter struct {
	Name   string
	Values []string
}
