// One line of a part's output that says why it failed. Our own scripts end a failure with their
// reason as the last line on stderr ("db: …", "seed: …", "setup: …"); for tools (turbo, next
// build) the first line that reports an error is the nearest thing.
import { stripVTControlCharacters } from "node:util";

function lines(text) {
  return stripVTControlCharacters(text)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The last thing a script said, without its "name: " prefix. */
export function lastSaid(output, prefix) {
  const said = lines(output.stderr).pop() ?? lines(output.stdout).pop() ?? "";
  return prefix && said.startsWith(`${prefix}: `) ? said.slice(prefix.length + 2) : said;
}

/** The first error a build reported ("Type error: …", "Module not found: …"), without turbo's prefixes. */
export function firstBuildError(output) {
  const all = lines(`${output.stdout}\n${output.stderr}`).map((l) =>
    l.replace(/^@meridian\/[\w-]+:[\w-]+:\s*/, ""),
  );
  const turboNoise = /^(ERROR\s+run failed|Tasks:|Cached:|Time:|Failed:|command .* exited)/i;
  const error = all.find((l) => /error|failed to compile|not found/i.test(l) && !turboNoise.test(l));
  return error ?? all.filter((l) => !turboNoise.test(l)).pop() ?? "no output";
}

/** How a process ended, for "… exited (…)". */
export function howItEnded({ code, signal, error }) {
  if (error) return error.message;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
