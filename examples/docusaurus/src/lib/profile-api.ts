// The profile-api, called with a JWT from the auth-server (docs/profile-api.md).
// Tokens travel in `authorization`, never cookies, so this works the same in
// cookie and bearer mode.
import { authConfig, dropApiToken, getApiToken } from "./auth-client";

export interface Profile {
  user_id: string;
  display_name: string | null;
  bio: string | null;
  avatar_url: string | null;
  software_background: string;
  hardware_background: string;
  programming_languages: string[];
  learning_goals: string | null;
  preferred_language: string;
  created_at: string;
  updated_at: string;
}

export type ProfileFields = Omit<Profile, "user_id" | "created_at" | "updated_at">;

/** A refused request: `field` is set for a 422 about one field. */
export class ProfileError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

async function call(method: string, headers: Record<string, string> = {}, body?: unknown): Promise<Response> {
  // No extra request headers beyond what the profile-api's CORS allows
  // (authorization, content-type, if-match, if-none-match).
  const url = `${authConfig().profileUrl}/api/profile`;
  for (let attempt = 0; ; attempt++) {
    const token = await getApiToken();
    if (!token) throw new ProfileError(401, "UNAUTHORIZED", "You are signed out.");
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Always the current version: its ETag is what the next write is conditional on.
      cache: "no-store",
    });
    // A cached JWT the profile-api no longer accepts (keys rotated): one retry
    // with a fresh one.
    if (res.status === 401 && attempt === 0) {
      dropApiToken();
      continue;
    }
    return res;
  }
}

async function refusal(res: Response): Promise<ProfileError> {
  const body = await res.json().catch(() => ({}));
  return new ProfileError(res.status, body.code ?? "ERROR", body.message ?? `HTTP ${res.status}`, body.field);
}

/** The learner's profile and its ETag, or null when they have none yet. */
export async function loadProfile(): Promise<{ profile: Profile; etag: string } | null> {
  const res = await call("GET");
  if (res.status === 404) return null;
  if (!res.ok) throw await refusal(res);
  return { profile: await res.json(), etag: res.headers.get("etag") ?? "" };
}

/**
 * Saves `fields`: a merge patch conditional on the version read (`If-Match`), or a
 * create-only PUT (`If-None-Match: *`) when there was no profile. Either way a
 * write from another tab or device in between is a 412, never silently lost.
 */
export async function saveProfile(
  fields: Partial<ProfileFields>,
  etag: string | null,
): Promise<{ profile: Profile; etag: string }> {
  const res = etag
    ? await call("PATCH", { "content-type": "application/merge-patch+json", "if-match": etag }, fields)
    : await call("PUT", { "content-type": "application/json", "if-none-match": "*" }, fields);
  if (!res.ok) throw await refusal(res);
  return { profile: await res.json(), etag: res.headers.get("etag") ?? "" };
}
