// Address families as short strings: they are map keys in status, RIBs and config.

export const Afi = { Ipv4: 1, Ipv6: 2 } as const;
export const Safi = { Unicast: 1, MplsVpn: 128 } as const;

export type Family = "ipv4-unicast" | "ipv6-unicast" | "ipv4-vpn" | "ipv6-vpn";
export const ALL_FAMILIES: readonly Family[] = ["ipv4-unicast", "ipv6-unicast", "ipv4-vpn", "ipv6-vpn"];

export function familyOf(afi: number, safi: number): Family | undefined {
  if (afi === 1 && safi === 1) return "ipv4-unicast";
  if (afi === 2 && safi === 1) return "ipv6-unicast";
  if (afi === 1 && safi === 128) return "ipv4-vpn";
  if (afi === 2 && safi === 128) return "ipv6-vpn";
  return undefined;
}

export function afiSafi(family: Family): { afi: number; safi: number } {
  switch (family) {
    case "ipv4-unicast":
      return { afi: 1, safi: 1 };
    case "ipv6-unicast":
      return { afi: 2, safi: 1 };
    case "ipv4-vpn":
      return { afi: 1, safi: 128 };
    case "ipv6-vpn":
      return { afi: 2, safi: 128 };
  }
}

export function isVpn(family: Family): boolean {
  return family.endsWith("-vpn");
}

export function isV6(family: Family): boolean {
  return family.startsWith("ipv6");
}
