import type { Metadata } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "Meridian",
  description:
    "Kubernetes and on-prem networking: eBPF datapath, FQDN policy, egress gateway, BGP, SRv6 L3VPN",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
