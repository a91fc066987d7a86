package bench

import (
	"testing"

	"github.com/privlink/privlink/internal/policy"
)

// s3PerimeterEndpointPolicy is the S3 VPC endpoint policy of
// github.com/aws-samples/data-perimeter-policy-examples (CC-BY-SA-4.0) with
// its placeholders filled in (org o-abc123def4, us-east-1, third-party
// accounts 333333333333 and 444444444444) and a seventh statement for the
// organization's artifact buckets: 7 statements, 63 resource ARNs.
const s3PerimeterEndpointPolicy = `
{
 "Version": "2012-10-17",
 "Statement": [
  {
   "Sid": "AllowRequestsByOrgsIdentitiesToOrgsResources",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": "*",
   "Resource": "*",
   "Condition": {
    "StringEquals": {
     "aws:PrincipalOrgID": "o-abc123def4",
     "aws:ResourceOrgID": "o-abc123def4"
    }
   }
  },
  {
   "Sid": "AllowRequestsByAWSServicePrincipals",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": "*",
   "Resource": "*",
   "Condition": {
    "Bool": {
     "aws:PrincipalIsAWSService": "true"
    }
   }
  },
  {
   "Sid": "AllowRequestsToAWSOwnedResources",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": [
    "s3:GetObject"
   ],
   "Resource": [
    "arn:aws:s3:::packages.us-east-1.amazonaws.com/*",
    "arn:aws:s3:::repo.us-east-1.amazonaws.com/*",
    "arn:aws:s3:::amazonlinux.us-east-1.amazonaws.com/*",
    "arn:aws:s3:::amazonlinux-2-repos-us-east-1/*",
    "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/*",
    "arn:aws:s3:::al2023-us-east-1/*",
    "arn:aws:s3:::repo.us-east-1.emr.amazonaws.com/*",
    "arn:aws:s3:::prod.us-east-1.appinfo.src/*",
    "arn:aws:s3:::aws-ssm-us-east-1/*",
    "arn:aws:s3:::aws-windows-downloads-us-east-1/*",
    "arn:aws:s3:::amazon-ssm-us-east-1/*",
    "arn:aws:s3:::amazon-ssm-packages-us-east-1/*",
    "arn:aws:s3:::us-east-1-birdwatcher-prod/*",
    "arn:aws:s3:::aws-ssm-distributor-file-us-east-1/*",
    "arn:aws:s3:::aws-ssm-document-attachments-us-east-1/*",
    "arn:aws:s3:::patch-baseline-snapshot-us-east-1/*",
    "arn:aws:s3:::aws-patchmanager-macos-us-east-1/*",
    "arn:aws:s3:::amazoncloudwatch-agent-us-east-1/*",
    "arn:aws:s3:::amazoncloudwatch-agent/*",
    "arn:aws:s3:::aws-codedeploy-us-east-1/*",
    "arn:aws:s3:::ec2imagebuilder-toe-us-east-1-prod/*",
    "arn:aws:s3:::ec2imagebuilder-managed-resources-us-east-1-prod/components/*",
    "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*",
    "arn:aws:s3:::aws-mgn-clients-us-east-1/*",
    "arn:aws:s3:::aws-mgn-clients-hashes-us-east-1/*",
    "arn:aws:s3:::aws-mgn-internal-us-east-1/*",
    "arn:aws:s3:::aws-mgn-internal-hashes-us-east-1/*",
    "arn:aws:s3:::aws-application-migration-service-us-east-1/*",
    "arn:aws:s3:::aws-application-migration-service-hashes-us-east-1/*",
    "arn:aws:s3:::aws-drs-clients-us-east-1/*",
    "arn:aws:s3:::aws-drs-clients-hashes-us-east-1/*",
    "arn:aws:s3:::aws-drs-internal-us-east-1/*",
    "arn:aws:s3:::aws-drs-internal-hashes-us-east-1/*",
    "arn:aws:s3:::aws-elastic-disaster-recovery-us-east-1/*",
    "arn:aws:s3:::aws-elastic-disaster-recovery-hashes-us-east-1/*",
    "arn:aws:s3:::cloudformation-waitcondition-us-east-1/*",
    "arn:aws:s3:::cloudformation-custom-resource-response-useast1/*",
    "arn:aws:s3:::aws-ec2-enclave-certificate-us-east-1-prod/*"
   ]
  },
  {
   "Sid": "AllowRequestsByThirdPartyIdentitiesToThirdPartyResources",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": "s3:GetObject",
   "Resource": "arn:aws:s3:::partner-bucket/*",
   "Condition": {
    "StringEquals": {
     "aws:PrincipalAccount": [
      "333333333333",
      "444444444444"
     ],
     "aws:ResourceAccount": [
      "333333333333",
      "444444444444"
     ]
    }
   }
  },
  {
   "Sid": "AllowRequestsByOrgsIdentitiesToThirdPartyResources",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": "s3:GetObject",
   "Resource": "arn:aws:s3:::partner-bucket/*",
   "Condition": {
    "StringEquals": {
     "aws:PrincipalOrgID": "o-abc123def4",
     "aws:ResourceAccount": [
      "333333333333",
      "444444444444"
     ]
    }
   }
  },
  {
   "Sid": "AllowRequestsByOrgsIdentitiesToAnyResources",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": "*",
   "Resource": "*",
   "Condition": {
    "StringEquals": {
     "aws:PrincipalOrgID": "o-abc123def4",
     "aws:PrincipalTag/resource-perimeter-exception": "true"
    }
   }
  },
  {
   "Sid": "AllowRequestsToCorporateArtifactBuckets",
   "Effect": "Allow",
   "Principal": {
    "AWS": "*"
   },
   "Action": [
    "s3:GetObject",
    "s3:ListBucket"
   ],
   "Resource": [
    "arn:aws:s3:::corp-artifacts-build/*",
    "arn:aws:s3:::corp-artifacts-release/*",
    "arn:aws:s3:::corp-artifacts-docker/*",
    "arn:aws:s3:::corp-artifacts-helm/*",
    "arn:aws:s3:::corp-artifacts-npm/*",
    "arn:aws:s3:::corp-artifacts-pypi/*",
    "arn:aws:s3:::corp-artifacts-maven/*",
    "arn:aws:s3:::corp-artifacts-go/*",
    "arn:aws:s3:::corp-artifacts-apt/*",
    "arn:aws:s3:::corp-artifacts-yum/*",
    "arn:aws:s3:::corp-artifacts-terraform/*",
    "arn:aws:s3:::corp-artifacts-ansible/*",
    "arn:aws:s3:::corp-artifacts-logs/*",
    "arn:aws:s3:::corp-artifacts-backup/*",
    "arn:aws:s3:::corp-artifacts-audit/*",
    "arn:aws:s3:::corp-artifacts-ml-models/*",
    "arn:aws:s3:::corp-artifacts-datasets/*",
    "arn:aws:s3:::corp-artifacts-reports/*",
    "arn:aws:s3:::corp-artifacts-exports/*",
    "arn:aws:s3:::corp-artifacts-archive/*"
   ],
   "Condition": {
    "StringEquals": {
     "aws:PrincipalOrgID": "o-abc123def4"
    }
   }
  }
 ]
}`

const benchIdentityPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"ReadHome","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::bucket/home/${aws:username}/*","arn:aws:s3:::amazonlinux.us-east-1.amazonaws.com/*"]},
 {"Sid":"DenyInsecure","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`

const baselinePolicy = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`

func compile(b testing.TB, doc string, kind policy.Kind) *policy.Compiled {
	b.Helper()
	c, err := policy.ParseAndCompile([]byte(doc), kind)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchRequest(resource, resourceOrg string) *policy.Request {
	r := &policy.Request{
		Principal: "arn:aws:iam::111111111111:user/alice", PrincipalOrgID: "o-abc123def4",
		Action: "s3:GetObject", Resource: resource, ResourceOrgID: resourceOrg,
	}
	r.Context.Set("aws:SourceVpce", "vpce-0a1b2c3d4e5f60718")
	r.Context.Set("aws:SourceVpc", "vpc-0aa11bb22cc33dd44")
	r.Context.Set("aws:SecureTransport", "true")
	r.Complete()
	return r
}

func runDecisions(b *testing.B, p *policy.Policies, r *policy.Request, want policy.Decision, reuse bool) {
	if got := policy.Evaluate(p, r); got.Decision != want {
		b.Fatalf("decision = %v (%s), want %v", got.Decision, got.Message, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var res policy.Result
	for b.Loop() {
		if reuse {
			policy.EvaluateInto(p, r, &res)
		} else {
			policy.Evaluate(p, r)
		}
	}
}

// BenchmarkPolicyEvaluate measures one decision: the S3 data-perimeter
// endpoint policy plus an identity policy, for requests that match early,
// late (AWS-owned bucket near the end of the ARN list) and not at all.
func BenchmarkPolicyEvaluate(b *testing.B) {
	perimeter := &policy.Policies{
		Endpoint: []*policy.Compiled{compile(b, s3PerimeterEndpointPolicy, policy.Endpoint)},
		Identity: []*policy.Compiled{compile(b, benchIdentityPolicy, policy.Identity)},
	}
	cases := []struct {
		name  string
		p     *policy.Policies
		r     *policy.Request
		want  policy.Decision
		reuse bool // EvaluateInto with one Result for the whole loop
	}{
		{"baseline-single-allow", &policy.Policies{Identity: []*policy.Compiled{compile(b, baselinePolicy, policy.Identity)}},
			benchRequest("arn:aws:s3:::bucket/home/alice/report.csv", "o-abc123def4"), policy.Allowed, false},
		{"perimeter-org-resource", perimeter, benchRequest("arn:aws:s3:::bucket/home/alice/report.csv", "o-abc123def4"), policy.Allowed, false},
		{"perimeter-org-resource-reused-result", perimeter, benchRequest("arn:aws:s3:::bucket/home/alice/report.csv", "o-abc123def4"), policy.Allowed, true},
		{"perimeter-aws-owned-resource", perimeter, benchRequest("arn:aws:s3:::amazonlinux.us-east-1.amazonaws.com/2023/repo.xml", ""), policy.Allowed, false},
		{"perimeter-denied", perimeter, benchRequest("arn:aws:s3:::bucket/home/bob/report.csv", "o-zzzzzzzzzz"), policy.ImplicitlyDenied, false},
	}
	// The baseline runs first; later cases report their cost as a multiple of
	// it, measured in the same run.
	var baselineNsPerOp float64
	for i, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			runDecisions(b, tc.p, tc.r, tc.want, tc.reuse)
			nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/nsPerOp, "decisions/s")
			if i == 0 {
				baselineNsPerOp = nsPerOp
			} else if baselineNsPerOp > 0 {
				b.ReportMetric(nsPerOp/baselineNsPerOp, "x-baseline")
			}
		})
	}
}
