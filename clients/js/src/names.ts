// How a user is named on screen. Anonymous visitors are users
// `visitor:<22 random characters>` (docs/visitors.md): shown whole, that
// id is noise, so pages show a short label and keep the id for a tooltip.

/** Whether `user` is an anonymous visitor (a user chatd issued a visitor token to). */
export function isVisitor(user: string): boolean {
  return user.startsWith("visitor:") && user.length > "visitor:".length;
}

/**
 * The name to show for `user`: a visitor as `word` and the first four
 * characters of its id ("Visitor ab12"; a Korean page passes "방문자"),
 * anyone else as is. Four characters tell apart the few visitors an agent
 * sees at once; the full id belongs in a title attribute beside the label.
 */
export function userLabel(user: string, word = "Visitor"): string {
  return isVisitor(user) ? word + " " + user.slice("visitor:".length, "visitor:".length + 4) : user;
}
