package awsapi

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

func params(t *testing.T, body string) Params {
	t.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	return ParseParams(v)
}

func TestParamsLists(t *testing.T) {
	p := params(t, "SubnetId.2=b&SubnetId.1=a&SubnetId.10=j&Subnets.member.1=x&Subnets.member.2=y&Other=1")
	if got := p.List("SubnetId"); !reflect.DeepEqual(got, []string{"a", "b", "j"}) {
		t.Errorf("List(SubnetId) = %v", got)
	}
	if got := p.List("Subnets"); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("List(Subnets) = %v", got)
	}
	if got := p.List("Missing"); got != nil {
		t.Errorf("List(Missing) = %v", got)
	}
}

func TestParamsFiltersAndTags(t *testing.T) {
	p := params(t, "Filter.1.Name=tag%3AName&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1"+
		"&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v")
	f, err := p.Filters()
	if err != nil {
		t.Fatal(err)
	}
	want := []cloud.Filter{{Name: "tag:Name", Values: []string{"a", "b"}}, {Name: "vpc-id", Values: []string{"vpc-1"}}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Filters = %+v", f)
	}
	specs, err := p.TagSpecifications()
	if err != nil || len(specs) != 1 || specs[0].ResourceType != "vpc" || specs[0].Tags[0] != (cloud.Tag{Key: "k", Value: "v"}) {
		t.Errorf("TagSpecifications = %+v, %v", specs, err)
	}
	if _, err := params(t, "Filter.1.Value.1=a").Filters(); err == nil {
		t.Error("a filter without a name must be refused")
	}
	if _, err := params(t, "Tag.1.Value=v").Tags("Tag"); err == nil {
		t.Error("a tag without a key must be refused")
	}
}

func TestParamsScalars(t *testing.T) {
	p := params(t, "A=true&B=FALSE&C=nope&N=12&M=x")
	for _, tc := range []struct {
		name    string
		want    bool
		wantErr bool
	}{{"A", true, false}, {"B", false, false}, {"C", false, true}, {"Z", true, false}} {
		got, err := p.Bool(tc.name, true)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("Bool(%s) = %v, %v", tc.name, got, err)
		}
	}
	if n, err := p.Int("N", 0); err != nil || n != 12 {
		t.Errorf("Int(N) = %d, %v", n, err)
	}
	if _, err := p.Int("M", 0); err == nil {
		t.Error("Int(M) must fail")
	}
	if _, err := p.Required("Missing"); err == nil {
		t.Error("Required(Missing) must fail")
	}
}

func FuzzParams(f *testing.F) {
	f.Add("Action=DescribeVpcs&Filter.1.Name=vpc-id&Filter.1.Value.1=x&VpcId.1=vpc-1")
	f.Add("TagSpecification.1.Tag.1.Key=a&Subnets.member.1=s&Subnets.member.01.x=3&A.0=1&A.-1=2&A.99999999999999999999=3")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		p := ParseParams(v)
		for k := range p {
			p.List(k)
			p.Structs(k)
			p.Struct(k)
			p.Bool(k, false)
			p.Int(k, 0)
		}
		p.Filters()
		p.TagSpecifications()
		p.Tags("Tag")
	})
}
