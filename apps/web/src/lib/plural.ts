// Labels derived from a plural section title, e.g. "Static policies" → "New static policy".

const ACRONYM = /^[A-Z0-9]{2,}s?$/;

/** English singular of one plural word: policies → policy, addresses → address, VRFs → VRF. */
export function singularWord(word: string): string {
  if (/ies$/i.test(word) && word.length > 4)
    return `${word.slice(0, -3)}${/[A-Z]{3}$/.test(word) ? "Y" : "y"}`;
  if (/(ss|x|z|ch|sh)es$/i.test(word)) return word.slice(0, -2);
  if (/ss$/i.test(word) || /us$/i.test(word)) return word;
  if (/s$/.test(word) || /S$/.test(word)) return word.slice(0, -1);
  return word;
}

/** The singular of a plural title, lower-cased except for acronyms (VRF, BGP, SRv6 stay as written). */
export function singularLabel(title: string): string {
  const words = title.trim().split(/\s+/);
  if (words.length === 0 || words[0] === "") return "";
  const last = words.length - 1;
  words[last] = singularWord(words[last] as string);
  return words.map((w) => (ACRONYM.test(w) || /[A-Z].*[A-Z]|\d/.test(w) ? w : w.toLowerCase())).join(" ");
}

/** "New …" button text for a list titled with a plural. */
export const newLabel = (title: string) => `New ${singularLabel(title)}`;
