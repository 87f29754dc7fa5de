"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

export const NAV = [
  { href: "/", label: "Overview" },
  { href: "/nodes", label: "Nodes" },
  { href: "/endpoints", label: "Endpoints" },
  { href: "/policies", label: "Policies" },
  { href: "/flows", label: "Flows" },
  { href: "/egress", label: "Egress" },
  { href: "/dns", label: "DNS" },
  { href: "/bgp", label: "BGP" },
  { href: "/srv6", label: "SRv6" },
  { href: "/audit", label: "Audit" },
  { href: "/admin", label: "Admin" },
  { href: "/noc", label: "NOC" },
] as const;

export function NavLinks() {
  const path = usePathname();
  return (
    <ul>
      {NAV.map((item) => {
        const current =
          item.href === "/" ? path === "/" : path === item.href || path.startsWith(`${item.href}/`);
        return (
          <li key={item.href}>
            <Link href={item.href} aria-current={current ? "page" : undefined}>
              {item.label}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
