/**
 * Members of the sorted sets the Redis stores list by: all scored 0, so
 * Redis orders them by the member itself, "<createdAt, 16 digits>:<id>", which
 * is (createdAt, id) order; newest first is that order reversed, ties by id.
 */

export function timeOrderedMember(createdAt: number, id: string, label: string): string {
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) throw new RangeError(`${label}: createdAt ${createdAt} is not a time in ms`);
  return `${String(createdAt).padStart(16, '0')}:${id}`;
}

/** The id a member names. */
export function memberId(member: string): string {
  return member.slice(17);
}
