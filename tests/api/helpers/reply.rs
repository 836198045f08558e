//! Typed reading of a response, in the spirit of crates.io's `Response<T>::good()`: a test
//! writes `app.get(url).await.good::<PromptView>()` and gets the view, or fails with the
//! status and the body it got. Bodies that a test checks as raw wire JSON (exact key sets,
//! Label Studio compatibility) stay `Value`.
use prompter::error::ErrorBody;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The typed readings of a `(status, body)` pair as [`super::TestApp`]'s requests return it.
pub trait Reply {
    /// Asserts a 200 and reads the body as `T`.
    fn good<T: DeserializeOwned>(self) -> T;
    /// Asserts a 201 and reads the body as `T`.
    fn created<T: DeserializeOwned>(self) -> T;
    /// Asserts `status` and reads the body as `T`.
    fn with_status<T: DeserializeOwned>(self, status: u16) -> T;
    /// Asserts a 4xx and reads Label Studio's error body (its `status_code` is the status).
    fn bad(self) -> ErrorBody;
}

impl Reply for (u16, Value) {
    fn good<T: DeserializeOwned>(self) -> T {
        self.with_status(200)
    }

    fn created<T: DeserializeOwned>(self) -> T {
        self.with_status(201)
    }

    #[track_caller]
    fn with_status<T: DeserializeOwned>(self, status: u16) -> T {
        let (got, body) = self;
        assert_eq!(got, status, "expected {status}, got {got}: {body}");
        read(body)
    }

    #[track_caller]
    fn bad(self) -> ErrorBody {
        let (status, body) = self;
        assert!(
            (400..500).contains(&status),
            "expected a 4xx, got {status}: {body}"
        );
        let error: ErrorBody = read(body);
        assert_eq!(error.status_code, status, "the body repeats the status");
        error
    }
}

/// Reads `body` as `T`, failing with the type, the reason and the body.
#[track_caller]
pub fn read<T: DeserializeOwned>(body: Value) -> T {
    match serde_json::from_value::<T>(body.clone()) {
        Ok(typed) => typed,
        Err(e) => panic!(
            "the body is not a {}: {e}\n{body:#}",
            std::any::type_name::<T>()
        ),
    }
}

/// The messages of an error body on `field` (empty when it names no such field).
pub fn field_errors<'a>(error: &'a ErrorBody, field: &str) -> &'a [String] {
    error
        .validation_errors
        .as_ref()
        .and_then(|fields| fields.get(field))
        .map_or(&[], Vec::as_slice)
}

/// Asserts a 400 whose error names `field`, and returns the error.
#[track_caller]
pub fn bad_field(reply: (u16, Value), field: &str) -> ErrorBody {
    let error = reply.bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(
        !field_errors(&error, field).is_empty(),
        "400 names `{field}`: {error:?}"
    );
    error
}
