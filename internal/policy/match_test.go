package policy

import (
	"fmt"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	r := &Request{Principal: "arn:aws:iam::111111111111:user/alice", PrincipalTags: map[string]string{"team": "blue"}}
	r.Complete()
	tests := []struct {
		name                  string
		pattern               string
		wildcards, vars, fold bool
		input                 string
		want                  bool
	}{
		{"lone star", "*", true, false, false, "", true},
		{"literal", "abc", true, false, false, "abc", true},
		{"literal case", "abc", true, false, false, "ABC", false},
		{"literal folded", "abc", true, false, true, "ABC", true},
		{"prefix", "ab*", true, false, false, "abcdef", true},
		{"prefix too short", "ab*", true, false, false, "a", false},
		{"prefix folded", "AB*", true, false, true, "abX", true},
		{"suffix", "*ef", true, false, false, "abcdef", true},
		{"backtracking", "*ab*ab", true, false, false, "xabyabab", true},
		{"question marks", "a??d", true, false, false, "abcd", true},
		{"question mark multibyte", "a?", true, false, false, "aé", true},
		{"star not special without wildcards", "a*", false, false, false, "abc", false},
		{"star literal without wildcards", "a*", false, false, false, "a*", true},
		{"variable", "home/${aws:username}/*", true, true, false, "home/alice/x", true},
		{"variable other", "home/${aws:username}/*", true, true, false, "home/bob/x", false},
		{"variable not interpolated without vars", "${aws:username}", true, false, false, "alice", false},
		{"variable value is literal, not a pattern", "${aws:PrincipalTag/team}", true, true, false, "blue", true},
		{"variable default", "${aws:PrincipalTag/none, 'dflt'}", true, true, false, "dflt", true},
		{"variable default with spaces", "${ aws:PrincipalTag/none ,  'a b' }", true, true, false, "a b", true},
		{"missing variable", "x${aws:PrincipalTag/none}", true, true, false, "x", false},
		{"escapes", "${*}${?}${$}", true, true, false, "*?$", true},
		{"malformed default is literal", "${a:b, nope}", true, true, false, "${a:b, nope}", true},
		{"empty variable is literal", "${}", true, true, false, "${}", true},
		{"variable next to star", "${aws:username}*", true, true, false, "alice-2", true},
		{"five variables (beyond the inline buffer)", "${aws:username}${aws:username}${aws:username}${aws:username}${aws:username}", true, true, false, "alicealicealicealicealice", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compilePattern(tc.pattern, tc.wildcards, tc.vars, tc.fold)
			if got := p.match(tc.input, r); got != tc.want {
				t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.input, got, tc.want)
			}
		})
	}
}

func TestARNPatternMatch(t *testing.T) {
	r := &Request{Principal: "arn:aws:iam::111111111111:user/alice"}
	r.Complete()
	tests := []struct {
		name, pattern, arn string
		want               bool
	}{
		{"exact", "arn:aws:s3:::b/k", "arn:aws:s3:::b/k", true},
		{"star spans slashes", "arn:aws:s3:::b*", "arn:aws:s3:::b/a/b", true},
		{"region star does not cross colons", "arn:aws:ec2:*:111111111111:instance/*", "arn:aws:ec2:us-east-1:extra:111111111111:instance/i", false},
		{"last component keeps colons", "arn:aws:lambda:us-east-1:111111111111:function:*", "arn:aws:lambda:us-east-1:111111111111:function:f:1", true},
		{"too few components", "arn:aws:s3:::b", "arn:aws:s3", false},
		{"variable in account", "arn:aws:dynamodb:*:${aws:PrincipalAccount}:table/*", "arn:aws:dynamodb:us-east-1:111111111111:table/t", true},
		{"colon inside variable default not a separator", "arn:aws:s3:::${aws:PrincipalTag/x, 'a:b'}", "arn:aws:s3:::a:b", true},
		{"short pattern", "arn:*", "arn:aws:s3:::b", true},
		{"not an ARN", "arn:aws:s3:::*", "bucket", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := compileARN(tc.pattern, true)
			if got := a.match(tc.arn, r); got != tc.want {
				t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.arn, got, tc.want)
			}
		})
	}
}

// TestResourceIndexAgreesWithScan checks the prefix index against a plain
// scan of the same patterns for many ARNs.
func TestResourceIndexAgreesWithScan(t *testing.T) {
	patterns := []string{
		"arn:aws:s3:::a/*", "arn:aws:s3:::ab/*", "arn:aws:s3:::abc", "arn:aws:s3:::abc/*", "arn:aws:s3:::b?c/*",
		"arn:aws:s3:::*-logs/*", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::x", "arn:aws:s3:::x/y/*",
		"arn:aws:sqs:*:111111111111:q", "arn:aws:s3:::a", "arn:aws:s3:::", "arn:aws:s3:::ab/cd/*", "arn:aws:s3:::ab/c",
	}
	arns := []string{
		"arn:aws:s3:::a/1", "arn:aws:s3:::ab/1", "arn:aws:s3:::abc", "arn:aws:s3:::abc/1", "arn:aws:s3:::bxc/1",
		"arn:aws:s3:::prod-logs/1", "arn:aws:s3:::home/alice/1", "arn:aws:s3:::home/bob/1", "arn:aws:s3:::x",
		"arn:aws:s3:::x/y/z", "arn:aws:sqs:us-east-1:111111111111:q", "arn:aws:s3:::a", "arn:aws:s3:::",
		"arn:aws:s3:::ab/cd/e", "arn:aws:s3:::ab/c", "arn:aws:s3:::ab", "arn:aws:s3:::zzz", "arn:aws:s3::", "", "arn:aws:s3:::aa",
	}
	r := &Request{Principal: "arn:aws:iam::111111111111:user/alice"}
	r.Complete()
	for n := 1; n <= len(patterns); n++ {
		for start := 0; start < len(patterns); start++ {
			var subset []string
			for i := 0; i < n; i++ {
				subset = append(subset, patterns[(start+i)%len(patterns)])
			}
			indexed := compileResourceSet(subset, true)
			scan := resourceSet{patterns: indexed.patterns}
			for _, arn := range arns {
				t.Run(fmt.Sprintf("n%d/s%d/%s", n, start, arn), func(t *testing.T) {
					if got, want := indexed.match(arn, r), scan.match(arn, r); got != want {
						t.Errorf("indexed = %v, scan = %v for %q over %q", got, want, arn, subset)
					}
				})
			}
		}
	}
}
