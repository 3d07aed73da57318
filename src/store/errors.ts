/** A store that cannot be opened, or a statement the database did not carry out. */
export class StoreError extends Error {}
