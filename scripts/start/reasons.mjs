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

/**
 * The first error a build reported, with its file when the line before names one
 * ("./app/page.tsx:3:1: Type error: Cannot find name 'foo'."), without turbo's prefixes.
 */
export function firstBuildError(output) {
  const all = lines(`${output.stdout}\n${output.stderr}`).map((l) =>
    l.replace(/^@meridian\/[\w-]+:[\w-]+:\s*/, ""),
  );
  const turbo = /^(ERROR:? +(run failed|command finished)|Tasks:|Cached:|Time:|Failed:)/i;
  const useful = all.filter((l) => !turbo.test(l));
  const i = useful.findIndex((l) => /\b(Type error|[A-Za-z]*Error|error TS\d+|Module not found)\b:?/.test(l));
  if (i >= 0) {
    const where = /^\.{0,2}\/?[\w./@-]+:\d+(:\d+)?$/.test(useful[i - 1] ?? "") ? `${useful[i - 1]}: ` : "";
    return `${where}${useful[i]}`;
  }
  return useful.find((l) => /failed|error/i.test(l)) ?? useful.pop() ?? "no output";
}

/** How a process ended, for "… exited (…)". */
export function howItEnded({ code, signal, error }) {
  if (error) return error.message;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
