import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  asnSchema,
  cidrSchema,
  dnsNameSchema,
  dnsPatternSchema,
  fqdnSelectorSchema,
  ipv4AddressSchema,
  ipv4CidrSchema,
  ipv6AddressSchema,
  portRangeSchema,
  portSchema,
  routeDistinguisherSchema,
  routeTargetSchema,
  specIssues,
} from "./index";

/** The issues a user would see for `value`, as field + reason. */
function issues(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  return result.success ? [] : specIssues(result.error);
}
const messages = (schema: z.ZodType, value: unknown) => issues(schema, value).map((i) => i.message);

describe("addresses", () => {
  it("accepts dotted-quad IPv4 and compressed IPv6", () => {
    expect(messages(ipv4AddressSchema, "192.0.2.1")).toEqual([]);
    expect(messages(ipv6AddressSchema, "2001:db8::1")).toEqual([]);
  });

  it("rejects shortened and out-of-range IPv4 forms that inet_aton would accept", () => {
    expect(messages(ipv4AddressSchema, "10.1")).toEqual(['"10.1" is not a valid IPv4 address']);
    expect(messages(ipv4AddressSchema, "256.0.0.1")[0]).toContain("not a valid IPv4 address");
  });

  it("says which family was given when the other was expected", () => {
    expect(messages(ipv4AddressSchema, "2001:db8::1")).toEqual([
      '"2001:db8::1" is an IPv6 address; expected IPv4 ',
    ]);
  });
});

describe("CIDRs", () => {
  it("accepts network prefixes of both families", () => {
    expect(messages(cidrSchema, "10.0.0.0/8")).toEqual([]);
    expect(messages(cidrSchema, "2001:db8::/32")).toEqual([]);
    expect(messages(cidrSchema, "0.0.0.0/0")).toEqual([]);
  });

  it("reports host bits and suggests the network", () => {
    expect(messages(cidrSchema, "10.0.0.1/24")).toEqual([
      "host bits set in 10.0.0.1/24, did you mean 10.0.0.0/24",
    ]);
    expect(messages(cidrSchema, "2001:db8::1/64")).toEqual([
      "host bits set in 2001:db8::1/64, did you mean 2001:db8::/64",
    ]);
  });

  it("calls malformed input malformed", () => {
    expect(messages(cidrSchema, "10.0.0.0/33")[0]).toContain("is not a valid IP CIDR");
    expect(messages(cidrSchema, "banana/8")[0]).toContain("is not a valid IP CIDR");
    expect(messages(cidrSchema, "10.0.0.0")).toEqual([
      '"10.0.0.0" is not a CIDR: add a prefix length, e.g. "10.0.0.0/32"',
    ]);
  });

  it("rejects the wrong family where one is required", () => {
    expect(messages(ipv4CidrSchema, "2001:db8::/32")[0]).toContain("expected IPv4");
  });
});

describe("ASN and ports", () => {
  it("accepts 4-byte ASNs and states the range when out of it", () => {
    expect(messages(asnSchema, 4200000000)).toEqual([]);
    expect(messages(asnSchema, 0)).toEqual(["ASN 0 is out of range: must be an integer 1..4294967295"]);
    expect(messages(asnSchema, 4294967296)).toEqual([
      "ASN 4294967296 is out of range: must be an integer 1..4294967295",
    ]);
  });

  it("rejects port 0 and 65536, and ranges that end before they start", () => {
    expect(messages(portSchema, 0)).toEqual(["port 0 is out of range: must be 1..65535"]);
    expect(messages(portSchema, 65536)).toEqual(["port 65536 is out of range: must be 1..65535"]);
    expect(issues(portRangeSchema, { start: 8080, end: 8000 })).toEqual([
      { field: "end", message: "port range 8080-8000 ends before it starts" },
    ]);
    expect(messages(portRangeSchema, { start: 8000, end: 8080 })).toEqual([]);
  });
});

describe("route distinguishers and route targets", () => {
  it("accepts the three RFC 4364 forms", () => {
    for (const rd of ["65000:4294967295", "4200000000:65535", "192.0.2.1:100"]) {
      expect(messages(routeDistinguisherSchema, rd)).toEqual([]);
    }
  });

  it("limits the number to 2 bytes after a 4-byte ASN or an IPv4 address", () => {
    expect(messages(routeTargetSchema, "4200000000:65536")).toEqual([
      'route target "4200000000:65536": with a 4-byte ASN (> 65535) the number must be 0..65535',
    ]);
    expect(messages(routeTargetSchema, "192.0.2.1:70000")).toEqual([
      'route target "192.0.2.1:70000": with an IPv4 address the number must be 0..65535',
    ]);
  });

  it("rejects a 2-byte ASN with a number wider than 4 bytes, and malformed values", () => {
    expect(messages(routeDistinguisherSchema, "65000:4294967296")[0]).toContain(
      "with a 2-byte ASN the number must be",
    );
    expect(messages(routeDistinguisherSchema, "65000")[0]).toContain("is malformed; expected ASN:NN");
    expect(messages(routeDistinguisherSchema, "300.1.1.1:5")[0]).toContain("is not an IPv4 address");
  });
});

describe("FQDN names and patterns", () => {
  it("accepts names and the documented pattern forms", () => {
    expect(messages(dnsNameSchema, "api.example.com.")).toEqual([]);
    for (const p of ["*.example.com", "**.example.com", "api-*.example.com", "*"]) {
      expect(messages(dnsPatternSchema, p)).toEqual([]);
    }
  });

  it("keeps wildcards out of matchName", () => {
    expect(messages(dnsNameSchema, "*.example.com")).toEqual([
      '"*" is only allowed in matchPattern, not matchName',
    ]);
  });

  it("only allows ** as the leading label", () => {
    expect(messages(dnsPatternSchema, "api.**.example.com")).toEqual([
      '"**" is only allowed as the first label ("**.example.com")',
    ]);
    expect(messages(dnsPatternSchema, "a**.example.com")[0]).toContain(
      '"**" must be a whole label at the start',
    );
  });

  it("enforces 63-character labels and 253-character names", () => {
    const longLabel = "a".repeat(64);
    expect(messages(dnsNameSchema, `${longLabel}.example.com`)[0]).toContain(
      "is 64 characters long; DNS labels are at most 63",
    );
    const longName = Array.from({ length: 4 }, () => "a".repeat(63)).join(".");
    expect(longName.length).toBe(255);
    expect(messages(dnsNameSchema, longName)).toEqual([
      "name is 255 characters long; DNS names are at most 253",
    ]);
  });

  it("rejects invalid characters and empty labels", () => {
    expect(messages(dnsNameSchema, "exa mple.com")[0]).toContain(
      'label "exa mple" has characters not allowed',
    );
    expect(messages(dnsNameSchema, "example..com")).toEqual([
      "empty label (two dots in a row, or a leading dot)",
    ]);
    expect(messages(dnsPatternSchema, "-bad.example.com")[0]).toContain('starts or ends with "-"');
  });

  it("needs exactly one of matchName or matchPattern in a selector", () => {
    expect(messages(fqdnSelectorSchema, {})).toEqual(["set exactly one of matchName or matchPattern"]);
    expect(messages(fqdnSelectorSchema, { matchName: "a.com", matchPattern: "*.a.com" })).toEqual([
      "set exactly one of matchName or matchPattern",
    ]);
  });
});
