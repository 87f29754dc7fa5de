// What the sign-in page may say. `?error=` carries only a code from this list, so a link cannot
// make the page show a message of its own; unknown codes show nothing.
export const LOGIN_ERRORS = {
  invalid: () => "Wrong email or password.",
  throttled: (wait: number | null) =>
    wait ? `Too many attempts, try again in ${wait} s.` : "Too many attempts, try again later.",
  origin: () => "That sign-in did not come from this console's page and was refused. Sign in here.",
  failed: () => "Sign-in failed. Try again.",
} as const;

export type LoginError = keyof typeof LOGIN_ERRORS;

export function loginErrorMessage(code: unknown, wait: unknown): string | null {
  if (typeof code !== "string" || !Object.hasOwn(LOGIN_ERRORS, code)) return null;
  const seconds = Number(wait);
  const shown = Number.isInteger(seconds) && seconds > 0 && seconds <= 24 * 3600 ? seconds : null;
  return LOGIN_ERRORS[code as LoginError](shown);
}
