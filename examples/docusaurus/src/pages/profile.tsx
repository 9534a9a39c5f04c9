import React, { useCallback, useEffect, useState, type FormEvent } from "react";
import { loadProfile, saveProfile, ProfileError, type Profile, type ProfileFields } from "@site/src/lib/profile-api";
import { Loading, useRequireAuth } from "@site/src/lib/session";
import { Field, Notice, Page } from "@site/src/components/forms";

const LEVELS = ["none", "beginner", "intermediate", "advanced"];

/** The form's values as profile fields: an empty text box means "no value" (null). */
function fieldsOf(form: FormData): Partial<ProfileFields> {
  const text = (name: string) => {
    const v = String(form.get(name) ?? "").trim();
    return v === "" ? null : v;
  };
  return {
    display_name: text("display_name"),
    bio: text("bio"),
    avatar_url: text("avatar_url"),
    software_background: String(form.get("software_background")),
    hardware_background: String(form.get("hardware_background")),
    programming_languages: String(form.get("programming_languages") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    learning_goals: text("learning_goals"),
    preferred_language: text("preferred_language") ?? "en",
  };
}

export default function ProfilePage() {
  const session = useRequireAuth();
  const [loaded, setLoaded] = useState<{ profile: Profile | null; etag: string | null } | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  // Bumped to re-mount the form with the values just loaded.
  const [version, setVersion] = useState(0);

  const load = useCallback(async () => {
    setError(null);
    setConflict(false);
    setFieldErrors({});
    try {
      const got = await loadProfile();
      setLoaded(got ? got : { profile: null, etag: null });
      setVersion((v) => v + 1);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);

  const userId = session?.user.id;
  useEffect(() => {
    if (userId) void load();
  }, [userId, load]);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!loaded) return;
    setBusy(true);
    setSaved(false);
    setError(null);
    setFieldErrors({});
    try {
      const got = await saveProfile(fieldsOf(new FormData(e.currentTarget)), loaded.etag);
      setLoaded(got);
      setSaved(true);
    } catch (e) {
      if (e instanceof ProfileError && e.status === 412) setConflict(true);
      else if (e instanceof ProfileError && e.status === 422 && e.field) setFieldErrors({ [e.field]: e.message });
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  if (!session || !loaded) {
    return (
      <Page title="Your profile">
        {error ? <Notice error={error} /> : <Loading />}
      </Page>
    );
  }
  const p = loaded.profile;
  return (
    <Page title="Your profile">
      <p>
        Signed in as <strong>{session.user.email}</strong>.{" "}
        {!p && "You have no profile yet: fill it in and save."}
      </p>
      <form key={version} onSubmit={onSubmit} className="auth-form" aria-label="Your profile">
        <Field label="Display name" name="display_name" defaultValue={p?.display_name ?? ""} error={fieldErrors.display_name} />
        <Field label="Bio" name="bio" multiline defaultValue={p?.bio ?? ""} error={fieldErrors.bio} />
        <Field label="Avatar URL" name="avatar_url" type="url" defaultValue={p?.avatar_url ?? ""} error={fieldErrors.avatar_url} />
        <Field
          label="Software background"
          name="software_background"
          defaultValue={p?.software_background ?? "none"}
          error={fieldErrors.software_background}
        >
          {LEVELS.map((l) => (
            <option key={l}>{l}</option>
          ))}
        </Field>
        <Field
          label="Hardware background"
          name="hardware_background"
          defaultValue={p?.hardware_background ?? "none"}
          error={fieldErrors.hardware_background}
        >
          {LEVELS.map((l) => (
            <option key={l}>{l}</option>
          ))}
        </Field>
        <Field
          label="Programming languages"
          name="programming_languages"
          hint="Comma-separated, e.g. Python, Rust"
          defaultValue={p?.programming_languages.join(", ") ?? ""}
          error={fieldErrors.programming_languages}
        />
        <Field label="Learning goals" name="learning_goals" multiline defaultValue={p?.learning_goals ?? ""} error={fieldErrors.learning_goals} />
        <Field
          label="Preferred language"
          name="preferred_language"
          hint="A language tag: en, ur, pt-BR"
          defaultValue={p?.preferred_language ?? "en"}
          error={fieldErrors.preferred_language}
        />
        <button type="submit" className="button button--primary" disabled={busy}>
          Save profile
        </button>
        <Notice error={error} ok={saved && "Profile saved."} />
        {conflict && (
          <div className="auth-error" role="alert">
            <p>This profile was changed elsewhere — reload to see the latest version before saving again.</p>
            <button type="button" className="button button--secondary" onClick={() => void load()}>
              Reload
            </button>
          </div>
        )}
      </form>
    </Page>
  );
}
