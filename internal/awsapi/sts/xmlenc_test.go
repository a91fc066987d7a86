package sts

import (
	"context"
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
	"github.com/privlink/privlink/internal/cloud"
)

// TestXMLShapesMatchEncodingXML checks the STS bodies, AssumeRole's result
// and GetCallerIdentity's handler-local shape, with random values: the fast
// encoder must write what encoding/xml writes, without falling back.
func TestXMLShapesMatchEncodingXML(t *testing.T) {
	identity, err := getCallerIdentity(context.Background(), &awsapi.Request{
		Caller: &cloud.Principal{AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/a&b", UserID: "AIDA<x>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var enc xmlenc.Encoder
	for i, body := range []any{&assumeRoleResult{}, identity} {
		t.Run(reflect.TypeOf(body).Elem().String(), func(t *testing.T) {
			xmlenctest.CheckBody(t, &enc, body, false, uint64(i), 300)
		})
	}
}
