#[tokio::main]
async fn main() -> std::process::ExitCode {
    bookinfo_support::launch::main::<bookinfo_details::AppState>(std::env::args()).await
}
