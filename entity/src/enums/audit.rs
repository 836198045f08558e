//! The vocabularies of the audit log: who acted, what they did, and on what kind of object.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// Who made a change recorded in the audit log.
    AuditActor {
        /// A signed-in person or an API token's user.
        User = "user",
        /// Prompter itself (a background job, a Label Studio sync).
        System = "system",
        /// A prompt's schedule firing.
        Schedule = "schedule",
    }
);

vocabulary!(
    /// What a change recorded in the audit log did.
    AuditAction {
        /// An object was created.
        Create = "create",
        /// An object's fields were changed.
        Update = "update",
        /// An object was deleted.
        Delete = "delete",
        /// Tasks (or a prompt document) were imported: one entry per import, with counts.
        Import = "import",
        /// A run was started.
        RunStart = "run.start",
        /// A run was canceled.
        RunCancel = "run.cancel",
        /// A refinement of a version was started.
        RefineStart = "refine.start",
        /// An optimization of a version was started.
        OptimizeStart = "optimize.start",
        /// A prompt's deployed version was changed.
        Deploy = "deploy",
        /// A deployment label other than `production` was set, moved or removed.
        LabelMove = "label.move",
        /// A provider connection's key was set for the first time.
        KeySet = "key.set",
        /// A provider connection's key was replaced.
        KeyRotated = "key.rotated",
        /// A provider connection's key was removed.
        KeyRemoved = "key.removed",
        /// A member's role was changed.
        MemberRoleChanged = "member.role_changed",
        /// An API token was created.
        TokenCreate = "token.create",
        /// An API token was revoked.
        TokenRevoke = "token.revoke",
        /// A Label Studio sync was started.
        SyncStart = "sync.start",
        /// A push of predictions to Label Studio was started.
        PushStart = "push.start",
        /// A person signed in to the web app.
        SignIn = "sign_in",
        /// A sign-in with a known email failed.
        SignInFailed = "sign_in.failed",
    }
);

vocabulary!(
    /// The kind of object a change recorded in the audit log is about.
    AuditObject {
        /// A labeling project.
        Project = "project",
        /// A task of a project.
        Task = "task",
        /// An annotation of a task.
        Annotation = "annotation",
        /// A prediction of a task.
        Prediction = "prediction",
        /// A prompt (model interface).
        Prompt = "prompt",
        /// A version of a prompt.
        Version = "version",
        /// An inference run.
        Run = "run",
        /// A refinement of a version.
        Refinement = "refinement",
        /// An optimization of a version.
        Optimization = "optimization",
        /// A prompt's schedule.
        Schedule = "schedule",
        /// A comment of a prompt's history.
        Comment = "comment",
        /// A model provider connection.
        Connection = "connection",
        /// A project's link to Label Studio.
        LabelStudioLink = "label_studio_link",
        /// An API token.
        Token = "token",
        /// A user (sign-in).
        User = "user",
        /// A membership of an organization.
        Member = "member",
        /// An outbound webhook endpoint.
        Webhook = "webhook",
    }
);
