/*
 * The real node's sandbox ("pause") process, built here because registry.k8s.io is out of reach: it holds
 * the pod's namespaces, exits 0 on SIGINT/SIGTERM and reaps orphans (it is PID 1 of the pod's PID namespace
 * when the pod shares one).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGINT, quit);
  signal(SIGTERM, quit);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
