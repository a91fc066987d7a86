package dns

import (
	"context"
	"fmt"

	mdns "github.com/miekg/dns"
)

// maxCNAMEChain bounds CNAME chasing; longer chains are a server failure.
const maxCNAMEChain = 8

// result is the outcome of resolving one question.
type result struct {
	rcode  int
	answer []mdns.RR
	// authority holds the SOA of a negative answer.
	authority []mdns.RR
}

// resolveChain answers qname/qtype from the zone zoneFor picks for each
// name, chasing CNAMEs. The final name decides the rcode (RFC 6604).
func resolveChain(ctx context.Context, qname string, qtype uint16, zoneFor func(string) *Zone) (result, error) {
	var res result
	seen := map[string]bool{}
	name := qname
	for hop := 0; ; hop++ {
		if err := ctx.Err(); err != nil {
			return result{}, fmt.Errorf("resolve %s: %w", qname, err)
		}
		if hop > maxCNAMEChain || seen[name] {
			return result{rcode: mdns.RcodeServerFailure}, nil
		}
		seen[name] = true
		z := zoneFor(name)
		if z == nil {
			res.rcode = mdns.RcodeNameError
			res.authority = []mdns.RR{rootSOA()}
			return res, nil
		}
		rrs, p := z.lookup(name, qtype)
		if p == absent {
			res.rcode = mdns.RcodeNameError
			res.authority = negativeSOA(z)
			return res, nil
		}
		res.answer = append(res.answer, rrs...)
		if len(rrs) == 1 && qtype != mdns.TypeCNAME && qtype != mdns.TypeANY {
			if c, ok := rrs[0].(*mdns.CNAME); ok {
				name = c.Target
				continue
			}
		}
		res.rcode = mdns.RcodeSuccess
		if len(rrs) == 0 {
			res.authority = negativeSOA(z)
		}
		return res, nil
	}
}

func negativeSOA(z *Zone) []mdns.RR {
	if z.soa != nil {
		return []mdns.RR{mdns.Copy(z.soa)}
	}
	return []mdns.RR{rootSOA()}
}
