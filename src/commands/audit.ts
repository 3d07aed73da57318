/** What a command or face tells the audit trail (PRODUCTION.md "Access"): who, what, on what, how it ended. */
export interface AuditNote {
  actor: string;
  action: string;
  target: string;
  result: string;
  /** When the entry is about an incident, it appears on that incident's timeline too. */
  incidentId?: number;
}

export type Audit = (note: AuditNote) => void;
