import Link from "next/link";

// notFound() from any console page (a deleted policy, node, revision or object) lands here, inside
// the console's own layout, instead of the bare page for addresses the console does not have.
export default function ConsoleNotFound() {
  return (
    <section className="card" aria-labelledby="nf-title" data-testid="console-not-found">
      <h1 id="nf-title">Not found</h1>
      <p>
        Nothing exists at this address any more: the object it shows may have been deleted, or the link is
        wrong.
      </p>
      <p className="muted">
        The <Link href="/audit">audit log</Link> lists every deletion with who made it and when, and can
        restore the revision before it.
      </p>
      <p>
        <Link href="/policies">Policies</Link> · <Link href="/nodes">Nodes</Link> ·{" "}
        <Link href="/">Overview</Link>
      </p>
    </section>
  );
}
