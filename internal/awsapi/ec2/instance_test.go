package ec2

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
)

// TestModifyInstanceAttribute takes the source/destination check in both of
// EC2's forms and refuses the attributes privlink does not model.
func TestModifyInstanceAttribute(t *testing.T) {
	a := newTestAPI(t)
	for _, step := range []struct {
		action string
		params awsapi.Params
	}{
		{"CreateVpc", awsapi.Params{"CidrBlock": "10.0.0.0/16"}},
		{"CreateSubnet", awsapi.Params{"VpcId": "{vpcId}", "CidrBlock": "10.0.1.0/24"}},
		{"RunInstances", awsapi.Params{"ImageId": "ami-12345678", "MinCount": "1", "MaxCount": "1", "SubnetId": "{subnetId}"}},
	} {
		if _, err := a.call(step.action, step.params); err != nil {
			t.Fatalf("%s: %v", step.action, err)
		}
	}
	checkOf := func(t *testing.T) string {
		t.Helper()
		out, err := a.call("DescribeNetworkInterfaces", awsapi.Params{"NetworkInterfaceId.1": "{networkInterfaceId}"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := xml.NewEncoder(&buf).EncodeElement(out, xml.StartElement{Name: xml.Name{Local: "R"}}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	tests := []struct {
		name     string
		params   awsapi.Params
		wantCode string
		want     string // in DescribeNetworkInterfaces afterwards
	}{
		{"CLI form off", awsapi.Params{"SourceDestCheck.Value": "false"}, "", "<sourceDestCheck>false</sourceDestCheck>"},
		{"attribute form on", awsapi.Params{"Attribute": "sourceDestCheck", "Value": "true"}, "", "<sourceDestCheck>true</sourceDestCheck>"},
		{"other attribute", awsapi.Params{"Attribute": "instanceType", "Value": "t3.micro"}, "UnsupportedOperation", "<sourceDestCheck>true</sourceDestCheck>"},
		{"other parameter", awsapi.Params{"DisableApiTermination.Value": "true"}, "UnsupportedOperation", "<sourceDestCheck>true</sourceDestCheck>"},
		{"no value", awsapi.Params{"Attribute": "sourceDestCheck"}, "MissingParameter", "<sourceDestCheck>true</sourceDestCheck>"},
		{"not a boolean", awsapi.Params{"SourceDestCheck.Value": "maybe"}, "InvalidParameterValue", "<sourceDestCheck>true</sourceDestCheck>"},
		{"nothing", awsapi.Params{}, "MissingParameter", "<sourceDestCheck>true</sourceDestCheck>"},
		{"unknown instance", awsapi.Params{"InstanceId": "i-0123456789abcdef0", "SourceDestCheck.Value": "false"}, "InvalidInstanceID.NotFound", "<sourceDestCheck>true</sourceDestCheck>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := awsapi.Params{"InstanceId": "{instanceId}"}
			for k, v := range tc.params {
				p[k] = v
			}
			_, err := a.call("ModifyInstanceAttribute", p)
			code := ""
			if e, ok := cloud.AsError(err); ok {
				code = e.Code
			} else if err != nil {
				t.Fatalf("non-AWS error %v", err)
			}
			if code != tc.wantCode {
				t.Fatalf("error %v, want code %q", err, tc.wantCode)
			}
			if got := checkOf(t); !strings.Contains(got, tc.want) {
				t.Errorf("interface after the call lacks %s:\n%s", tc.want, got)
			}
		})
	}
}
