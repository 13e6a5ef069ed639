//! `seam-api`: the HTTP API. Configuration: see `config/` and the README.

use std::process::ExitCode;

use seam_api::Application;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match seam_wiring::load_settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("seam-api: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match seam_wiring::init_telemetry(&settings, "seam-api") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("seam-api: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(config = %settings.redacted_json(), "starting seam-api");

    let code = match Application::build(settings).await {
        Ok(app) => {
            // The one line meant for a person at a terminal (and for `make run`).
            #[allow(clippy::print_stdout)]
            {
                println!("seam-api listening on http://{}", app.local_addr());
            }
            seam_wiring::cancel_on_signal(app.shutdown_token());
            match app.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error.message = %error, "server failed");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            tracing::error!(error.message = %error, error.cause_chain = ?error, "cannot start");
            eprintln!("seam-api: cannot start: {error}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
