import type { NameOf } from '../incidents/words.js';

/** Who a user id is, for postmortems: Slack answers with display names, the console with ids. */
export interface PeopleDirectory {
  displayName(user: string): Promise<string>;
}

/** The console (and anything without a directory): people are their ids. */
export const idsAsNames: PeopleDirectory = { displayName: async (user) => user };

/**
 * Looks up a batch of ids at once and waits at most `budgetMs` for all of them together: a slow,
 * failing or rate-limited directory costs at most that, and whoever is not known by then keeps
 * their raw id.
 */
export async function namesOf(people: PeopleDirectory, ids: string[], budgetMs = 1000): Promise<NameOf> {
  const names = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)));
  const lookups = ids.map((id) =>
    people.displayName(id).then(
      (name) => void (name ? names.set(id, name) : undefined),
      () => undefined,
    ),
  );
  try {
    await Promise.race([Promise.all(lookups), deadline]);
  } finally {
    clearTimeout(timer);
  }
  return (id) => names.get(id) ?? id;
}
