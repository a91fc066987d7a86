package awsapi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/privlink/privlink/internal/awsapi/xmlenc"
)

// Protocol is a wire protocol flavour.
type Protocol int

const (
	// ProtocolEC2 is EC2's Query dialect: <XResponse><requestId/>fields…</XResponse>.
	ProtocolEC2 Protocol = iota
	// ProtocolQuery is the awsquery dialect of IAM, STS and ELBv2:
	// <XResponse><XResult>…</XResult><ResponseMetadata/></XResponse>.
	ProtocolQuery
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// fastXML holds encodeInner's per-type encoding plans. It is package state
// because encodeInner is a function, and harmless: like encoding/xml's own
// type cache it only grows with the finite set of response body types.
var fastXML xmlenc.Encoder

// encodeInner marshals body's fields without its own element.
func encodeInner(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	b, err := fastXML.AppendElement(nil, "R", body)
	if errors.Is(err, xmlenc.ErrUnsupported) {
		// The fast encoder writes what encoding/xml would, but only for the
		// features it knows; anything else takes the reference path.
		var buf bytes.Buffer
		err = xml.NewEncoder(&buf).EncodeElement(body, xml.StartElement{Name: xml.Name{Local: "R"}})
		b = buf.Bytes()
	}
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte("<R>")) && bytes.HasSuffix(b, []byte("</R>")) {
		return b[3 : len(b)-4], nil
	}
	if bytes.Equal(b, []byte("<R/>")) {
		return nil, nil
	}
	return nil, fmt.Errorf("awsapi: response body of type %T did not encode as an element", body)
}

// EncodeResponse renders a successful response.
func EncodeResponse(proto Protocol, xmlns, action, requestID string, body any) ([]byte, error) {
	inner, err := encodeInner(body)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(inner) + 512) // one allocation for the envelope and the body
	b.WriteString(xmlHeader)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, action, xmlns)
	switch proto {
	case ProtocolEC2:
		b.WriteString("<requestId>")
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString("</requestId>")
		b.Write(inner)
	case ProtocolQuery:
		if body != nil {
			fmt.Fprintf(&b, "<%sResult>", action)
			b.Write(inner)
			fmt.Fprintf(&b, "</%sResult>", action)
		}
		b.WriteString("<ResponseMetadata><RequestId>")
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString("</RequestId></ResponseMetadata>")
	}
	fmt.Fprintf(&b, "</%sResponse>", action)
	return b.Bytes(), nil
}

// EncodeError renders an error body in the protocol's shape.
func EncodeError(proto Protocol, xmlns, code, message, requestID string, sender bool) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	esc := func(s string) { xml.EscapeText(&b, []byte(s)) }
	switch proto {
	case ProtocolEC2:
		b.WriteString("<Response><Errors><Error><Code>")
		esc(code)
		b.WriteString("</Code><Message>")
		esc(message)
		b.WriteString("</Message></Error></Errors><RequestID>")
		esc(requestID)
		b.WriteString("</RequestID></Response>")
	case ProtocolQuery:
		fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>`, xmlns)
		if sender {
			b.WriteString("Sender")
		} else {
			b.WriteString("Receiver")
		}
		b.WriteString("</Type><Code>")
		esc(code)
		b.WriteString("</Code><Message>")
		esc(message)
		b.WriteString("</Message></Error><RequestId>")
		esc(requestID)
		b.WriteString("</RequestId></ErrorResponse>")
	}
	return b.Bytes()
}
