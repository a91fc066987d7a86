package policy

import (
	"testing"
	"time"
)

func TestParseOperator(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"StringEquals", "StringEquals", true},
		{"stringequals", "StringEquals", true},
		{"ForAnyValue:StringLikeIfExists", "ForAnyValue:StringLikeIfExists", true},
		{"forallvalues:numericlessthanequals", "ForAllValues:NumericLessThanEquals", true},
		{"IpAddressIfExists", "IpAddressIfExists", true},
		{"Null", "Null", true},
		{"NullIfExists", "", false},
		{"ForAnyValue:Null", "", false},
		{"StringEqualsIfExistsIfExists", "", false},
		{"ForAnyValue:", "", false},
		{"Bogus", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			o, ok := parseOperator(tc.in)
			if ok != tc.ok || (ok && o.name() != tc.want) {
				t.Errorf("parseOperator(%q) = %q, %v; want %q, %v", tc.in, o.name(), ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"2020-01-01T00:00:00Z", true},
		{"2020-01-01T01:00:00+01:00", true},
		{"2020-01-01T00:00:00.000Z", true},
		{"2020-01-01T00:00:00", true},
		{"2020-01-01T00:00Z", true},
		{"2020-01-01", true},
		{"1577836800", true},
		{"1577836800.0", true},
		{"not a date", false},
		{"", false},
		{"2020-13-01", false},
		{"99999999999999", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseDate(tc.in)
			if ok != tc.ok || (ok && !got.Equal(want)) {
				t.Errorf("parseDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, want, tc.ok)
			}
		})
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"10.1.2.3/8", "10.0.0.0/8", true},
		{"203.0.113.5", "203.0.113.5/32", true},
		{"2001:db8::1", "2001:db8::1/128", true},
		{"2001:db8::/32", "2001:db8::/32", true},
		{"10.0.0.0/33", "", false},
		{"fe80::1%eth0", "", false},
		{"host", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseCIDR(tc.in)
			if ok != tc.ok || (ok && got.String() != tc.want) {
				t.Errorf("parseCIDR(%q) = %v, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
