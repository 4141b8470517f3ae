// The support desk's REST calls beyond a room's (docs/rest-api.md,
// docs/support-desk.md): agents' availability and load, canned replies,
// and the supervisors' overview.
import type { ChatClient } from "./client.js";
import type { Room } from "./types.js";

export interface Agent {
  user: string;
  status: "online" | "away" | "offline";
  /** Their assigned support rooms still open. */
  open_chats: number;
  /** The topics `[support] skills` gives them (docs/support-desk.md, "Topics and skills"). */
  skills: string[];
}

export interface AgentsAnswer {
  agents: Agent[];
  /** `[support] max_chats_per_agent` (0: no limit). */
  max_chats_per_agent: number;
}

export interface CannedReply {
  desk: string;
  /** What an agent types after "/" (lower case). */
  shortcut: string;
  title: string;
  body: string;
  updated_by?: string;
  updated_at?: number;
}

export interface CannedAnswer {
  desk: string;
  replies: CannedReply[];
  /** Whether the caller may save and delete replies. */
  can_edit: boolean;
  max: number;
}

/** A support room as the desk's lists show it, with what the instance keeps of its customer's wait. */
export type DeskRoom = Room & { waiting_since?: number; sla_breached?: boolean };

export interface Overview {
  queue: DeskRoom[];
  assigned: DeskRoom[];
  agents: Agent[];
  max_chats_per_agent: number;
}

const enc = encodeURIComponent;

export class SupportDesk {
  constructor(private readonly client: ChatClient) {}

  /** Agents, supervisors, admins: every agent with their status and load. */
  agents(): Promise<AgentsAnswer> {
    return this.client.rest.request("GET", "/api/agents");
  }

  /** Agents: `away` (automatic assignment passes them by) or back `online`; resolves with the status now. */
  setStatus(status: "online" | "away"): Promise<{ user: string; status: Agent["status"] }> {
    return this.client.rest.request("PUT", "/api/agents/me/status", { status });
  }

  /** Supervisors: every support room waiting or assigned, and every agent (403 for anyone else). */
  overview(): Promise<Overview> {
    return this.client.rest.request("GET", "/api/support/overview");
  }

  /** Agents and admins: the desk's canned replies, and whether the caller may change them. */
  canned(): Promise<CannedAnswer> {
    return this.client.rest.request("GET", "/api/support/canned");
  }

  /** Save a canned reply under `shortcut` (new or replacing one). */
  saveCanned(shortcut: string, title: string, body: string): Promise<CannedReply> {
    return this.client.rest.request("PUT", "/api/support/canned/" + enc(shortcut), { title, body });
  }

  deleteCanned(shortcut: string): Promise<unknown> {
    return this.client.rest.request("DELETE", "/api/support/canned/" + enc(shortcut));
  }
}
