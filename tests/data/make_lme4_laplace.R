# glmer(nAGQ = 1) (the Laplace approximation) on tests/data/laplace_three.csv,
# for tests/test_laplace.py. Run from the project root:
#   setarch -R Rscript tests/data/make_lme4_laplace.R
# Writes tests/data/lme4_laplace.json. Needs R with lme4 (Debian: r-cran-lme4).
suppressMessages(library(lme4))
d <- read.csv(file.path("tests", "data", "laplace_three.csv"))
d$school <- factor(d$school)
d$district <- factor(d$district)
d$region <- factor(d$region)
d$sex <- factor(d$sex)

num <- function(x) sprintf("%.15g", x)
named <- function(v) paste0("{", paste(sprintf('"%s": %s', names(v), num(v)), collapse = ", "), "}")
fe_names <- function(v) {
  names(v)[names(v) == "(Intercept)"] <- "Intercept"
  names(v)[names(v) == "sexM"] <- "sex[T.M]"
  v
}
vc_list <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  nm <- function(x) ifelse(is.na(x), "null", sprintf('"%s"', sub("\\(Intercept\\)", "Intercept", x)))
  rows <- sprintf('{"group": "%s", "var1": %s, "var2": %s, "variance": %s}',
                  sub("\\.[0-9]+$", "", vc$grp), nm(vc$var1), nm(vc$var2), num(vc$vcov))
  paste0("[", paste(rows, collapse = ", "), "]")
}
ctrl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                     optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
fit <- function(name, formula, family, offset = FALSE) {
  t0 <- proc.time()[["elapsed"]]
  m <- glmer(formula, data = d, family = family, nAGQ = 1, control = ctrl)
  elapsed <- proc.time()[["elapsed"]] - t0
  t1 <- proc.time()[["elapsed"]]
  m2 <- glmer(formula, data = d, family = family, nAGQ = 1,
              control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  default_time <- proc.time()[["elapsed"]] - t1
  sprintf(paste0('"%s": {"formula": "%s", "family": "%s", "link": "%s", "offset": %s, ',
                 '"llf": %s, "params": %s, "bse_model": %s, "var_components": %s, "seconds": %s, ',
                 '"seconds_default_tolerances": %s}'),
          name, paste(deparse(formula, width.cutoff = 500), collapse = ""), family$family,
          family$link, if (offset) '"logexp"' else "null", num(as.numeric(logLik(m))),
          named(fe_names(fixef(m))),
          named(fe_names(sqrt(diag(as.matrix(vcov(m)))))), vc_list(m), num(elapsed), num(default_time))
}
out <- c(
  fit("two_logit", pass ~ x + sex + (1 | school), binomial()),
  fit("three_logit", pass ~ x + sex + (1 | school) + (1 | district), binomial()),
  fit("three_probit", pass ~ x + sex + (1 | school) + (1 | district), binomial("probit")),
  fit("three_cloglog", pass ~ x + sex + (1 | school) + (1 | district), binomial("cloglog")),
  fit("four_logit", pass ~ x + sex + (1 | school) + (1 | district) + (1 | region), binomial()),
  fit("slope2", slope ~ x + (1 + x | school) + (1 | district), binomial()),
  fit("slope3", slope ~ x + (1 | school) + (1 + x | district), binomial()),
  fit("slope3_uncorrelated", slope ~ x + (1 | school) + (x || district), binomial()),
  fit("poisson_offset", count ~ x + sex + offset(logexp) + (1 | school) + (1 | district),
      poisson(), offset = TRUE)
)
writeLines(c("{", paste0(" ", out, collapse = ",\n"),
             sprintf(' ,"source": "lme4 %s on %s, glmer(nAGQ = 1), bobyqa, tolPwrss = 1e-12, rhoend = 1e-10"',
                     packageVersion("lme4"), R.version.string), "}"),
           file.path("tests", "data", "lme4_laplace.json"))
