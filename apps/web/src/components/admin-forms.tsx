"use client";
// Create users, API tokens and join tokens. Secrets are shown once, here, and never again.
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { type CallError, callError, errorsUnder } from "@/lib/errors";
import { useTRPCClient } from "@/lib/trpc";
import { Field } from "./field";

function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div className="banner banner-ok" role="status">
      <p>{label} — copy it now; it is shown only once:</p>
      <code className="secret" data-testid="secret">
        {value}
      </code>
    </div>
  );
}

function ErrorBox({ error }: { error: CallError | null }) {
  if (!error || Object.keys(error.fieldErrors).length) return null;
  return (
    <p className="form-error" role="alert">
      {error.message}
    </p>
  );
}

function RoleField({ id }: { id: string }) {
  return (
    <Field id={id} label="Role">
      {(a) => (
        <select {...a} name="role" defaultValue="viewer">
          <option>viewer</option>
          <option>operator</option>
          <option>admin</option>
        </select>
      )}
    </Field>
  );
}

export function AdminForms() {
  const client = useTRPCClient();
  const router = useRouter();
  const [userErr, setUserErr] = useState<CallError | null>(null);
  const [tokErr, setTokErr] = useState<CallError | null>(null);
  const [joinErr, setJoinErr] = useState<CallError | null>(null);
  const [tokSecret, setTokSecret] = useState<string | null>(null);
  const [joinSecret, setJoinSecret] = useState<string | null>(null);
  const [userDone, setUserDone] = useState<string | null>(null);

  const val = (e: FormEvent<HTMLFormElement>, k: string) =>
    String(new FormData(e.currentTarget).get(k) ?? "");
  const errs = (err: CallError | null, path: string) => errorsUnder(err?.fieldErrors ?? {}, path);
  /** Submit handler: clears the form's error, runs the call, refreshes the page or shows the error. */
  const submit =
    (setErr: (e: CallError | null) => void, run: (e: FormEvent<HTMLFormElement>) => Promise<void>) =>
    async (e: FormEvent<HTMLFormElement>) => {
      e.preventDefault();
      setErr(null);
      try {
        await run(e);
        router.refresh();
      } catch (err) {
        setErr(callError(err));
      }
    };

  return (
    <div className="admin-forms">
      <form
        className="card"
        aria-labelledby="h-new-user"
        onSubmit={submit(setUserErr, async (e) => {
          const form = e.currentTarget;
          const u = await client.users.create.mutate({
            email: val(e, "email"),
            name: val(e, "name"),
            role: val(e, "role") as "viewer",
            password: val(e, "password"),
          });
          setUserDone(`Created ${u.email} (${u.role}).`);
          form.reset();
        })}
      >
        <h3 id="h-new-user">Add a user</h3>
        <Field id="u-email" label="Email" errors={errs(userErr, "email")}>
          {(a) => <input {...a} name="email" type="email" required />}
        </Field>
        <Field id="u-name" label="Name">
          {(a) => <input {...a} name="name" />}
        </Field>
        <RoleField id="u-role" />
        <Field
          id="u-password"
          label="Initial password"
          hint="at least 12 characters"
          errors={errs(userErr, "password")}
        >
          {(a) => <input {...a} name="password" type="password" autoComplete="new-password" required />}
        </Field>
        <button type="submit">Add user</button>
        <ErrorBox error={userErr} />
        {userDone ? (
          <p className="banner banner-ok" role="status">
            {userDone}
          </p>
        ) : null}
      </form>
      <form
        className="card"
        aria-labelledby="h-new-token"
        onSubmit={submit(setTokErr, async (e) => {
          setTokSecret(null);
          const r = await client.apiTokens.create.mutate({
            name: val(e, "name"),
            role: val(e, "role") as "viewer",
          });
          setTokSecret(r.secret);
        })}
      >
        <h3 id="h-new-token">Create an API token</h3>
        <Field id="t-name" label="Token name" errors={errs(tokErr, "name")}>
          {(a) => <input {...a} name="name" required />}
        </Field>
        <RoleField id="t-role" />
        <button type="submit">Create token</button>
        <ErrorBox error={tokErr} />
        {tokSecret ? <Secret label="API token" value={tokSecret} /> : null}
      </form>
      <form
        className="card"
        aria-labelledby="h-new-join"
        onSubmit={submit(setJoinErr, async (e) => {
          setJoinSecret(null);
          const nodeName = val(e, "node").trim();
          const r = await client.joinTokens.create.mutate({
            description: val(e, "description"),
            ...(nodeName ? { nodeName } : {}),
          });
          setJoinSecret(r.secret);
        })}
      >
        <h3 id="h-new-join">Create a node join token</h3>
        <Field id="j-node" label="For node (optional)" errors={errs(joinErr, "nodeName")}>
          {(a) => <input {...a} name="node" />}
        </Field>
        <Field id="j-desc" label="Description">
          {(a) => <input {...a} name="description" />}
        </Field>
        <button type="submit">Create join token</button>
        <ErrorBox error={joinErr} />
        {joinSecret ? <Secret label="Join token (valid 24 h, once)" value={joinSecret} /> : null}
      </form>
    </div>
  );
}
