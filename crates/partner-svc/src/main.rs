#[actix_web::main]
async fn main() -> std::process::ExitCode {
    user_core::startup::exit_code(partner_svc::run().await)
}
