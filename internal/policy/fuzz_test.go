package policy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

func addCorpusSeeds(f *testing.F, add func(doc []byte)) {
	for _, cases := range loadCorpus(f) {
		for _, c := range cases {
			var pols struct {
				Identity []json.RawMessage `json:"identity"`
				Endpoint []json.RawMessage `json:"endpoint"`
			}
			_ = json.Unmarshal(c.Policies, &pols)
			for _, d := range append(pols.Identity, pols.Endpoint...) {
				add(d)
			}
		}
	}
	if doc, err := os.ReadFile("testdata/s3_endpoint_policy.json"); err == nil {
		add(doc)
	}
}

// FuzzParse checks that parsing never panics and that a valid policy
// marshals to a document that parses back to an equivalent policy.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`), uint8(Identity))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["a*",1,true]}}}]}`), uint8(Resource))
	addCorpusSeeds(f, func(doc []byte) { f.Add(doc, uint8(0)) })
	f.Fuzz(func(t *testing.T, doc []byte, k uint8) {
		kind := Kind(k % uint8(Trust+1))
		msgs := Validate(doc, kind)
		first, second, out, ok := roundTrip(t, doc, kind)
		if ok != (len(msgs) == 0) {
			t.Fatalf("Parse ok=%v but Validate returned %q", ok, msgs)
		}
		if !ok {
			return
		}
		if diff := equivalent(first, second); diff != "" {
			t.Fatalf("round trip not equivalent (-first +second):\n%s\ninput:  %q\noutput: %s", diff, doc, out)
		}
		// Compiling and evaluating a valid policy must not panic either.
		r := &Request{Principal: "arn:aws:iam::111111111111:user/alice", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
		r.Complete()
		c := Compile(first)
		_ = c.evaluate(r, false, nil)
	})
}

// FuzzEvaluate evaluates fuzzed policies against fuzzed requests and checks
// invariants that hold whatever the policies say.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`),
		"s3:GetObject", "arn:aws:s3:::b/alice/x", "aws:SourceVpce", "vpce-1")
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}}}`),
		"ec2:RunInstances", "*", "aws:SourceIp", "10.1.2.3")
	addCorpusSeeds(f, func(doc []byte) {
		f.Add(doc, "s3:GetObject", "arn:aws:s3:::bucket/key", "aws:SourceVpce", "vpce-1a2b3c4d")
	})
	denyAll := mustCompile(f, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, Identity)
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, key, value string) {
		id, err := ParseAndCompile(doc, Identity)
		if err != nil {
			return
		}
		r := &Request{Principal: "arn:aws:iam::111111111111:user/alice", Action: action, Resource: resource, ResourceAccount: "111111111111", PrincipalTags: map[string]string{"team": value}}
		r.Context.Set(key, value, value+"x")
		r.Complete()
		p := &Policies{Identity: []*Compiled{id}}
		res := Evaluate(p, r)
		again := Evaluate(p, r)
		if res.Decision != again.Decision || res.Message != again.Message {
			t.Fatalf("evaluation is not deterministic: %+v vs %+v", res, again)
		}
		switch res.Decision {
		case Allowed:
			if len(res.BlockedBy) != 0 || res.Message != "" {
				t.Fatalf("allowed with blockedBy %v message %q", res.BlockedBy, res.Message)
			}
		case ExplicitlyDenied:
			if !hasEffect(res.Matched, Deny) {
				t.Fatalf("explicit deny without a matched Deny statement: %+v", res)
			}
		case ImplicitlyDenied:
			if hasEffect(res.Matched, Deny) || res.Message == "" {
				t.Fatalf("implicit deny with a Deny match or no message: %+v", res)
			}
		}
		// Same account, identity policies only: an applying Allow is what grants.
		if (res.Decision == Allowed) != hasEffect(res.Matched, Allow) && res.Decision != ExplicitlyDenied {
			t.Fatalf("decision %v disagrees with matched statements %+v", res.Decision, res.Matched)
		}
		p.Identity = append(p.Identity, denyAll)
		if d := Evaluate(p, r).Decision; d != ExplicitlyDenied {
			t.Fatalf("adding Deny * gave %v", d)
		}
	})
}

func hasEffect(ms []MatchedStatement, e Effect) bool {
	for _, m := range ms {
		if m.Effect == e {
			return true
		}
	}
	return false
}

// FuzzPatternMatch compares the wildcard matcher with a regular expression
// built from the same pattern.
func FuzzPatternMatch(f *testing.F) {
	for _, s := range [][2]string{{"s3:Get*", "s3:GetObject"}, {"a*b?c", "aXXbYc"}, {"*a*a*a*", "aaaa"}, {"?", "é"}, {"x*", ""}} {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if strings.Contains(pat, "${") {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		if fold {
			re.WriteString(`(?i)`)
		}
		for _, c := range pat {
			switch c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		rx := regexp.MustCompile(re.String())
		if fold && (!isASCII(pat) || !isASCII(s)) {
			return // the matcher folds ASCII only
		}
		if !isValidUTF8(pat) || !isValidUTF8(s) {
			return
		}
		p := compilePattern(pat, true, false, fold)
		if got, want := p.match(s, &Request{}), rx.MatchString(s); got != want {
			t.Fatalf("match(%q, %q, fold=%v) = %v, regexp says %v", pat, s, fold, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
