import type { Metadata } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "Meridian",
  description:
    "Kubernetes and on-prem networking: eBPF datapath, FQDN policy, egress gateway, BGP, SRv6 L3VPN",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Every page carries the CSP nonce of its own response (proxy.ts), so none may be prerendered
  // at build time: a prerendered page's scripts would have no nonce and would not run.
  await connection();
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
