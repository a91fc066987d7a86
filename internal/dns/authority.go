package dns

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// ErrNXDomain means the name does not exist.
var ErrNXDomain = errors.New("dns: no such domain")

// ErrNoData means the name exists but has no record of the asked type.
var ErrNoData = errors.New("dns: no records of that type")

// ErrServFail means the name could not be resolved (a CNAME loop or chain
// too long).
var ErrServFail = errors.New("dns: server failure")

// Authority holds the public hosted zones privlink serves itself, such as
// the zones endpoint-service providers publish private DNS verification
// TXT records in. It is safe for concurrent use; readers never block.
type Authority struct {
	mu    sync.Mutex // serialises writers
	zones atomic.Pointer[[]*Zone]
}

// NewAuthority returns an Authority with no zones.
func NewAuthority() *Authority {
	a := &Authority{}
	a.zones.Store(&[]*Zone{})
	return a
}

// PutZone adds z, replacing any zone with the same apex.
func (a *Authority) PutZone(z *Zone) error {
	if z == nil || z.apex == "." {
		return fmt.Errorf("%w: an authority zone needs an apex below the root", ErrInvalidName)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.zones.Load()
	next := make([]*Zone, 0, len(old)+1)
	for _, o := range old {
		if o.apex != z.apex {
			next = append(next, o)
		}
	}
	next = append(next, z)
	sort.Slice(next, func(i, j int) bool { return len(next[i].apex) > len(next[j].apex) })
	a.zones.Store(&next)
	return nil
}

// RemoveZone drops the zone at apex and reports whether it was there.
func (a *Authority) RemoveZone(apex string) bool {
	apex = Canonical(apex)
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.zones.Load()
	next := make([]*Zone, 0, len(old))
	for _, o := range old {
		if o.apex != apex {
			next = append(next, o)
		}
	}
	a.zones.Store(&next)
	return len(next) != len(old)
}

// Zone returns the zone at apex.
func (a *Authority) Zone(apex string) (*Zone, bool) {
	apex = Canonical(apex)
	for _, z := range *a.zones.Load() {
		if z.apex == apex {
			return z, true
		}
	}
	return nil, false
}

// zoneFor returns the most specific zone at or above name, or nil.
func (a *Authority) zoneFor(name string) *Zone {
	if a == nil {
		return nil
	}
	for _, z := range *a.zones.Load() {
		if z.covers(name) {
			return z
		}
	}
	return nil
}

// LookupTXT resolves the TXT records of name as a DNS resolver would,
// following CNAMEs across the Authority's zones. Each returned value is
// one record with its character-strings joined. A name outside every zone
// is ErrNXDomain: privlink has no internet to ask.
func (a *Authority) LookupTXT(ctx context.Context, name string) ([]string, error) {
	qname, err := canonicalChecked(name)
	if err != nil {
		return nil, fmt.Errorf("lookup TXT %q: %w", name, err)
	}
	res, err := resolveChain(ctx, qname, mdns.TypeTXT, a.zoneFor)
	if err != nil {
		return nil, fmt.Errorf("lookup TXT %q: %w", name, err)
	}
	switch res.rcode {
	case mdns.RcodeNameError:
		return nil, fmt.Errorf("lookup TXT %q: %w", name, ErrNXDomain)
	case mdns.RcodeServerFailure:
		return nil, fmt.Errorf("lookup TXT %q: %w", name, ErrServFail)
	}
	var out []string
	for _, rr := range res.answer {
		if txt, ok := rr.(*mdns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup TXT %q: %w", name, ErrNoData)
	}
	return out, nil
}
