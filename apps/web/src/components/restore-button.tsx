"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { callError } from "@/lib/errors";
import { useTRPCClient } from "@/lib/trpc";

export function RestoreButton({ number, count }: { number: number; count: number }) {
  const client = useTRPCClient();
  const router = useRouter();
  const [confirming, setConfirming] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  async function restore() {
    setBusy(true);
    try {
      const r = await client.audit.restore.mutate({ number });
      setMsg({
        ok: true,
        text: `Restored: ${r.changed} object(s) changed in revision ${r.revision ?? "—"}.`,
      });
      setConfirming(false);
      router.refresh();
    } catch (err) {
      setMsg({ ok: false, text: callError(err).message });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="actions">
      {count === 0 ? (
        msg ? null : (
          <p className="muted">Nothing to restore: the model is as it was at revision {number}.</p>
        )
      ) : confirming ? (
        <span className="confirm">
          Apply the {count} change{count === 1 ? "" : "s"} above as a new revision?{" "}
          <button type="button" className="danger" onClick={restore} disabled={busy}>
            Yes, restore revision {number}
          </button>{" "}
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" onClick={() => setConfirming(true)}>
          Restore revision {number}…
        </button>
      )}
      {msg ? (
        <p className={msg.ok ? "banner banner-ok" : "form-error"} role={msg.ok ? "status" : "alert"}>
          {msg.text}
        </p>
      ) : null}
    </div>
  );
}
