//! SeaORM entities of Prompter: the Label Studio core data (organizations, users, projects,
//! tasks, annotations, predictions) and the Prompts data (prompts, versions, runs, provider
//! connections, failed predictions). Entities never go on the wire; `src/` maps them to views.

pub mod annotation;
pub mod api_token;
pub mod audit_log;
pub mod enums;
pub mod failed_prediction;
pub mod form_submission;
pub mod job;
pub mod label_studio_link;
pub mod llm_cache;
pub mod ml_backend_project;
pub mod model_interface;
pub mod model_interface_project;
pub mod model_provider_connection;
pub mod model_refinement;
pub mod model_run;
pub mod model_run_slice;
pub mod model_version;
pub mod optimization_candidate;
pub mod organization;
pub mod organization_member;
pub mod pacing_lease;
pub mod prediction;
pub mod project;
pub mod prompt_comment;
pub mod prompt_optimization;
pub mod prompt_schedule;
pub mod provider_batch;
pub mod run_replacement;
pub mod task;
pub mod user;
pub mod version_label;
pub mod web_flash;
pub mod web_session;
pub mod webhook;
pub mod webhook_delivery;

pub mod prelude {
    //! Entity re-exports under readable names.
    pub use crate::annotation::Entity as Annotation;
    pub use crate::api_token::Entity as ApiToken;
    pub use crate::failed_prediction::Entity as FailedPrediction;
    pub use crate::label_studio_link::Entity as LabelStudioLink;
    pub use crate::ml_backend_project::Entity as MlBackendProject;
    pub use crate::model_interface::Entity as ModelInterface;
    pub use crate::model_interface_project::Entity as ModelInterfaceProject;
    pub use crate::model_provider_connection::Entity as ModelProviderConnection;
    pub use crate::model_refinement::Entity as ModelRefinement;
    pub use crate::model_run::Entity as ModelRun;
    pub use crate::model_run_slice::Entity as ModelRunSlice;
    pub use crate::model_version::Entity as ModelVersion;
    pub use crate::organization::Entity as Organization;
    pub use crate::organization_member::Entity as OrganizationMember;
    pub use crate::prediction::Entity as Prediction;
    pub use crate::project::Entity as Project;
    pub use crate::task::Entity as Task;
    pub use crate::user::Entity as User;
}
