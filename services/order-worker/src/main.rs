//! `seam-order-worker`: consumes order events. Configuration: see `config/` and the README.

use std::process::ExitCode;

use seam_order_worker::Worker;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match seam_wiring::load_settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("seam-order-worker: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match seam_wiring::init_telemetry(&settings, "seam-order-worker") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("seam-order-worker: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(config = %settings.redacted_json(), "starting seam-order-worker");

    let code = match Worker::build(settings).await {
        Ok(worker) => {
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "seam-order-worker health and metrics on http://{}",
                    worker.local_addr()
                );
            }
            seam_wiring::cancel_on_signal(worker.shutdown_token());
            match worker.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error.message = %error, "worker failed");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            tracing::error!(error.message = %error, error.cause_chain = ?error, "cannot start");
            eprintln!("seam-order-worker: cannot start: {error}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
