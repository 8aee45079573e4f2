#[actix_web::main]
async fn main() -> std::process::ExitCode {
    user_core::startup::exit_code(jive_svc::run().await)
}
