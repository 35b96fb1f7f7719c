// The approved written statements for a visitor who is not signed in (docs/statements.md): the
// event page has no live connection then, so it asks the public HTTP document once and hands it to
// the same rendering as the live page (statements.js renderPublishedStatements).

import { api } from "./page.js";

/** The approved statements of the event, shaped like the live public state ({statements: {published}}); null if unavailable. */
export async function loadPublishedStatements(slug) {
  const result = await api(`/api/events/${encodeURIComponent(slug)}/statements`);
  if (!result.ok || !Array.isArray(result.data?.segments)) return null;
  return { statements: { published: result.data.segments.flatMap((segment) => segment.statements) } };
}
